import RNNFormat
/// A module that runs with PyTorch's inference semantics and can be saved as a `ModuleRecord`.
///
/// Conforming types are immutable values: many threads may call one module at once, and every
/// piece of state lives in values the caller owns (`StreamingState`, `h0`, ...).
public protocol RecurrentModule: Sendable {
    /// The hyperparameters and parameters, as written to a model file.
    var record: ModuleRecord { get }
}

extension RecurrentModule {
    /// The hyperparameters.
    public var config: ModuleConfig { record.config }
}

/// What every module type holds: its record and the products prepared from it.
struct ModuleCore: Sendable {
    let record: ModuleRecord
    let weights: RecurrentWeights

    /// - Parameter kinds: the kinds the calling type runs; nil for any.
    /// - Throws: `RNNRuntimeError.unsupported` for another kind; see `RecurrentWeights.init(record:)`.
    init(record: ModuleRecord, kinds: Set<ModuleKind>?) throws {
        if let kinds, !kinds.contains(record.config.kind) {
            let names = kinds.map(\.rawValue).sorted().joined(separator: " or ")
            throw RNNRuntimeError.unsupported(module: record.config.kind.rawValue + (record.path.isEmpty ? "" : " '\(record.path)'"),
                                              message: "expected a \(names) record, found \(record.config.kind.rawValue)")
        }
        // The reset-before GRU (Keras reset_after=False, ONNX's default) is read and written,
        // not yet run.
        guard record.config.linearBeforeReset else {
            throw RNNRuntimeError.unsupported(module: record.config.kind.rawValue + (record.path.isEmpty ? "" : " '\(record.path)'"),
                                              message: "the reset-before GRU (linear_before_reset = 0) is not run by this version of RNNRuntime")
        }
        self.record = record
        weights = try RecurrentWeights(record: record)
    }

    /// A freshly initialised module with PyTorch's default initialisation.
    init(config: ModuleConfig, path: String, generator: inout some RandomNumberGenerator) throws {
        try self.init(record: ModuleRecord(pytorchDefault: config, path: path, using: &generator), kinds: nil)
    }

    func run(_ input: Tensor, h0: Tensor?, c0: Tensor?, lengths: [Int]?) throws -> ModuleOutput {
        try weights.run(input: input, h0: h0, c0: c0, lengths: lengths)
    }
}
