/// Turns the float weight matrices of a module into symmetric int8 with PyTorch's rule.
///
/// The rule is the one `torch.ao.quantization.quantize_dynamic(..., dtype=torch.qint8)` applies
/// to RNN weights (spec/FORMAT.md, "Quantized tensors"): zero point 0,
/// `scale = max(Float(amax) / 127.5, 1.1920929e-07)` as a float32 division, then
/// `q = clamp(roundHalfEven(w * (1 / scale)), -128, 127)` with the float32 reciprocal.
/// `.perTensor` takes one `amax` over the whole matrix (PyTorch's default for RNNs);
/// `.perChannel` takes one per output row, the same rule row by row.
///
/// Which tensors: every `weight_ih*`, `weight_hh*` and, for LSTMs with `proj_size > 0`,
/// `weight_hr*` (PyTorch cannot quantize projected LSTMs; the same rule applies). Biases stay
/// float and are stored as float32. Modules without biases are quantized too (PyTorch refuses
/// them only because its packed int8 RNN cell requires a bias tensor); running one gives exactly
/// what the same module with zero biases gives.
public struct Quantizer: Sendable, Hashable {
    public var scheme: QuantizedTensor.Scheme

    /// The smallest weight scale: float32 machine epsilon, as PyTorch's observers use.
    public static let minimumScale: Float = Float.ulpOfOne

    /// - Parameter scheme: `.perTensor` (PyTorch's default) or `.perChannel` (one scale per row).
    public init(scheme: QuantizedTensor.Scheme = .perTensor) {
        self.scheme = scheme
    }

    /// The symmetric int8 scale of values whose largest magnitude is `amax`.
    public static func scale(amax: Float) -> Float {
        let scale = amax / Float(127.5)
        return scale < minimumScale ? minimumScale : scale
    }

    /// Quantizes a (rows, columns) matrix with this quantizer's scheme.
    ///
    /// Values must be finite (`quantize(_:file:)` checks that); a non-finite value gives a
    /// meaningless but valid tensor rather than a trap.
    public func quantize(_ matrix: Tensor) -> QuantizedTensor {
        precondition(matrix.rank == 2, "quantizer takes matrices, got shape \(matrix.shape)")
        let rows = matrix.shape[0]
        let columns = matrix.shape[1]
        var values = [Int8](repeating: 0, count: matrix.count)
        var scales: [Float] = []
        matrix.scalars.withUnsafeBufferPointer { w in
            values.withUnsafeMutableBufferPointer { q in
                switch scheme {
                case .perTensor:
                    let s = Self.scale(amax: Self.absoluteMaximum(w[...]))
                    Self.quantize(w[...], scale: s, into: q)
                    scales = [s]
                case .perChannel:
                    scales.reserveCapacity(rows)
                    for r in 0..<rows {
                        let range = r * columns..<(r + 1) * columns
                        let s = Self.scale(amax: Self.absoluteMaximum(w[range]))
                        Self.quantize(w[range], scale: s, into: UnsafeMutableBufferPointer(rebasing: q[range]))
                        scales.append(s)
                    }
                }
            }
        }
        return QuantizedTensor(
            shape: matrix.shape, trusted: values, scales: scales,
            zeroPoints: [Int32](repeating: 0, count: scales.count))
    }

    /// Returns `module` with every weight matrix quantized and every bias stored as float32.
    ///
    /// - Parameters:
    ///   - module: a float module; it must pass `ModuleRecord.validate`.
    ///   - file: the file the module came from, for error messages.
    ///   - naming: whether messages name tensors by HDF5 path or state_dict key.
    /// - Throws: `RNNFormatError` `.unsupported` when a weight is already quantized, and
    ///   whatever `validate` throws for a module that cannot be quantized.
    public func quantize(_ module: ModuleRecord, file: String, naming: ObjectNaming = .hdf5) throws -> ModuleRecord {
        try module.validate(file: file, naming: naming)
        var out = module
        for spec in module.config.expectedParameters {
            switch module.parameters[spec.name] {
            case .quantized(let q):
                throw RNNFormatError(.unsupported, file: file, object: naming.name(prefix: module.path, spec.name),
                                     "already quantized (\(q.scheme.rawValue)); quantize the float model instead")
            case .float(let tensor, _):
                out.parameters[spec.name] = spec.role.isWeight ? .quantized(quantize(tensor)) : .float(tensor, stored: .float32)
            case nil:
                break  // absent parameters were refused by validate
            }
        }
        return out
    }

    private static func absoluteMaximum(_ w: Slice<UnsafeBufferPointer<Float>>) -> Float {
        // PyTorch: max(-min(w, 0), max(w, 0)); magnitude() is the same number for finite w.
        var amax: Float = 0
        for v in w where v.magnitude > amax { amax = v.magnitude }
        return amax
    }

    private static func quantize(
        _ w: Slice<UnsafeBufferPointer<Float>>, scale: Float,
        into q: UnsafeMutableBufferPointer<Int8>
    ) {
        let inverse = 1 / scale
        for (i, j) in zip(w.indices, q.indices) {
            let r = (w[i] * inverse).rounded(.toNearestOrEven)
            q[j] = r >= 127 ? 127 : (r >= -128 ? Int8(r) : -128)
        }
    }
}

extension Quantizer {
    /// Quantizes the modules of `model` that `prefixes` select, or every module when nil.
    ///
    /// A prefix selects the module at that dotted path and every module below it
    /// (`model` selects `model.encoder` and `model.decoder`); `""` selects a module at the root.
    ///
    /// - Parameters:
    ///   - model: the float model.
    ///   - prefixes: dotted state_dict prefixes, or nil for all modules.
    ///   - file: the file the model came from, for error messages.
    /// - Returns: the model with the selected modules quantized, and their paths in file order.
    /// - Throws: `RNNFormatError` `.moduleNotFound` for an empty model or a prefix that selects
    ///   nothing, and whatever `quantize(_:file:naming:)` throws for a selected module.
    public func quantize(_ model: ModelFile, modules prefixes: [String]?, file: String) throws -> (model: ModelFile, quantized: [String]) {
        guard !model.modules.isEmpty else {
            throw RNNFormatError(.moduleNotFound, file: file, "the file holds no RNN module to quantize")
        }
        func selects(_ prefix: String, _ path: String) -> Bool {
            path == prefix || (!prefix.isEmpty && path.hasPrefix(prefix + "."))
        }
        if let prefixes {
            for prefix in prefixes where !model.modules.contains(where: { selects(prefix, $0.path) }) {
                let available = model.modules.map { $0.path.isEmpty ? "\"\" (root)" : $0.path }.joined(separator: ", ")
                throw RNNFormatError(.moduleNotFound, file: file, object: prefix,
                                     "selects no module; the file holds \(available)")
            }
        }
        var out = model
        var quantized: [String] = []
        for (i, module) in model.modules.enumerated()
        where prefixes.map({ $0.contains { selects($0, module.path) } }) ?? true {
            out.modules[i] = try quantize(module, file: file)
            quantized.append(module.path)
        }
        return (out, quantized)
    }
}
