import RNNRuntime
import RNNFormat
/// What quantizing one module did: stored bytes, and the error of its outputs against the
/// float module on one seeded random sequence.
public struct QuantizationReport: Sendable, Hashable {
    /// The module's dotted state_dict prefix.
    public var path: String
    public var kind: ModuleKind
    public var scheme: QuantizedTensor.Scheme
    /// `ModuleRecord.storedBytes` of the float and of the quantized module.
    public var bytesBefore: Int
    public var bytesAfter: Int
    /// Over every element of the probe's outputs (sequence modules: `output`; cells: `h'` of
    /// every step).
    public var maxAbsError: Float
    public var meanAbsError: Double
    /// Length of the probe sequence (batch 1).
    public var steps: Int
    /// Seed of the probe input.
    public var seed: UInt64

    /// Runs `float` and `quantized` on the same input and compares their outputs.
    ///
    /// The input is one sequence (batch 1) of `steps` steps with elements uniform in [-1, 1)
    /// drawn from `SplitMix64(seed:)`. Sequence modules take it in one call, as PyTorch would;
    /// cells are stepped through it carrying their state, one call per step.
    ///
    /// - Parameters:
    ///   - float: the module before quantization.
    ///   - quantized: the same module with int8 weights.
    ///   - steps: probe length, at least 1.
    ///   - seed: probe seed.
    /// - Throws: `RNNFormatError` or `RNNRuntimeError` when either module cannot be loaded.
    public init(float: ModuleRecord, quantized: ModuleRecord, steps: Int = 100, seed: UInt64 = 0) throws {
        precondition(steps >= 1, "the probe needs at least one step")
        let before = try AnyModule(float)
        let after = try AnyModule(quantized)
        let config = float.config
        var generator = SplitMix64(seed: seed)
        let values = (0..<steps * config.inputSize).map { _ in Float.random(in: -1..<1, using: &generator) }
        let expected: [Float]
        let actual: [Float]
        if config.kind.isCell {
            func stream(_ module: AnyModule) throws -> [Float] {
                var state = module.initialState(batchSize: 1)
                var out: [Float] = []
                for t in 0..<steps {
                    let x = Tensor(shape: [1, config.inputSize], trusted: Array(values[t * config.inputSize..<(t + 1) * config.inputSize]))
                    out += try module.step(x, state: &state).scalars
                }
                return out
            }
            expected = try stream(before)
            actual = try stream(after)
        } else {
            let shape = config.batchFirst ? [1, steps, config.inputSize] : [steps, 1, config.inputSize]
            let input = Tensor(shape: shape, trusted: values)
            expected = try before(input).output?.scalars ?? []
            actual = try after(input).output?.scalars ?? []
        }
        let difference = try TensorDifference(Tensor(shape: [expected.count], trusted: expected),
                                              Tensor(shape: [actual.count], trusted: actual))
        path = float.path
        kind = config.kind
        scheme = quantized.quantization ?? .perTensor
        bytesBefore = float.storedBytes
        bytesAfter = quantized.storedBytes
        maxAbsError = difference.maxAbs
        meanAbsError = difference.meanAbs
        self.steps = steps
        self.seed = seed
    }
}

/// The result of quantizing a model: the quantized model and one report per quantized module.
public struct ModelQuantization: Sendable {
    public var model: ModelFile
    public var reports: [QuantizationReport]

    /// Quantizes the selected modules of `model` and measures each one.
    ///
    /// - Parameters:
    ///   - model: the float model.
    ///   - quantizer: the rule (`Quantizer()` is PyTorch's per-tensor default).
    ///   - prefixes: dotted prefixes selecting modules (see `Quantizer.quantize(_:modules:file:)`),
    ///     or nil for every module.
    ///   - file: the file the model came from, for error messages.
    ///   - steps: probe length of each report.
    ///   - seed: probe seed of each report.
    /// - Throws: `RNNFormatError` for a selection or module that cannot be quantized.
    public init(
        quantizing model: ModelFile, with quantizer: Quantizer = Quantizer(), modules prefixes: [String]? = nil,
        file: String, steps: Int = 100, seed: UInt64 = 0
    ) throws {
        let (quantized, paths) = try quantizer.quantize(model, modules: prefixes, file: file)
        var reports: [QuantizationReport] = []
        for path in paths {
            guard let before = model.modules.first(where: { $0.path == path }),
                  let after = quantized.modules.first(where: { $0.path == path }) else { continue }
            reports.append(try QuantizationReport(float: before, quantized: after, steps: steps, seed: seed))
        }
        self.model = quantized
        self.reports = reports
    }
}
