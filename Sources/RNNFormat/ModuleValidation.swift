/// Upper bounds on hyperparameters; anything beyond is refused as implausible before any
/// allocation is sized from it (spec/FORMAT.md "Limits").
public enum ModuleLimits {
    /// Largest `input_size` and `hidden_size`.
    public static let maxSize = 1 << 20
    /// Largest `num_layers`.
    public static let maxLayers = 1024
}

extension ModuleConfig {
    /// Checks the hyperparameters on their own (sizes positive, options valid for the kind).
    ///
    /// - Throws: `RNNFormatError(.invalidAttribute)` naming the module and the attribute.
    public func validate(file: String, object: String) throws {
        func fail(_ message: String) -> RNNFormatError {
            RNNFormatError(.invalidAttribute, file: file, object: object, message)
        }
        for (name, value) in [("input_size", inputSize), ("hidden_size", hiddenSize)] {
            guard value >= 1 && value <= ModuleLimits.maxSize else {
                throw fail("expected \(name) between 1 and \(ModuleLimits.maxSize), found \(value)")
            }
        }
        guard numLayers >= 1 && numLayers <= ModuleLimits.maxLayers else {
            throw fail("expected num_layers between 1 and \(ModuleLimits.maxLayers), found \(numLayers)")
        }
        guard dropout >= 0 && dropout <= 1 else {
            throw fail("expected dropout between 0 and 1, found \(dropout)")
        }
        guard projSize >= 0 else { throw fail("expected proj_size >= 0, found \(projSize)") }
        if projSize > 0 {
            guard kind == .lstm else { throw fail("proj_size is only valid for LSTM, found proj_size \(projSize) on \(kind.rawValue)") }
            guard projSize < hiddenSize else {
                throw fail("expected proj_size smaller than hidden_size (\(hiddenSize)), found \(projSize)")
            }
        }
        if kind.isCell {
            guard numLayers == 1 else { throw fail("a \(kind.rawValue) has one layer, found num_layers \(numLayers)") }
            guard !bidirectional else { throw fail("a \(kind.rawValue) cannot be bidirectional") }
            guard !batchFirst else { throw fail("a \(kind.rawValue) has no batch_first option") }
            // Kept only to be lost on writing, since cells are written without it.
            guard dropout == 0 else { throw fail("a \(kind.rawValue) has no dropout, found dropout \(dropout)") }
        }
        if !kind.hasNonlinearity && nonlinearity != .tanh {
            throw fail("nonlinearity applies to RNN and RNNCell only, found \(nonlinearity.rawValue) on \(kind.rawValue)")
        }
        if !linearBeforeReset && kind.family != .gru {
            throw fail("linear_before_reset applies to GRU and GRUCell only, found 0 on \(kind.rawValue)")
        }
    }
}

extension ModuleRecord {
    /// Checks that the module holds exactly the tensors its hyperparameters require, with the
    /// exact shapes, finite values, and int8 storage only for weight matrices.
    ///
    /// - Parameters:
    ///   - file: the file path as the user gave it, for messages.
    ///   - naming: whether messages name objects by HDF5 path or state_dict key.
    /// - Throws: `RNNFormatError` with `.missingTensor`, `.unexpectedObject`, `.shapeMismatch`,
    ///   `.nonFinite`, `.unsupportedType` or `.invalidAttribute`, naming the tensor.
    public func validate(file: String, naming: ObjectNaming = .hdf5) throws {
        try validate(file: file, naming: naming, finite: [])
    }

    /// `validate(file:naming:)`, skipping the scan for non-finite values of the float tensors
    /// named in `finite`, which the caller has scanned already (the HDF5 reader scans each tensor
    /// while the previous one is being hashed, off the critical path).
    func validate(file: String, naming: ObjectNaming, finite: Set<String>) throws {
        func object(_ name: String) -> String { naming.name(prefix: path, name) }
        try config.validate(file: file, object: object(""))
        let expected = config.expectedParameters
        let expectedNames = Set(expected.map(\.name))
        for spec in expected {
            guard let parameter = parameters[spec.name] else {
                throw RNNFormatError(.missingTensor, file: file, object: object(spec.name),
                                     "missing: a \(config.kind.rawValue) with these hyperparameters needs \(spec.name) of shape \(spec.shape)")
            }
            guard parameter.shape == spec.shape else {
                throw RNNFormatError(.shapeMismatch, file: file, object: object(spec.name),
                                     "expected shape \(spec.shape), found \(parameter.shape)")
            }
            switch parameter {
            case .float(let tensor, _):
                if !finite.contains(spec.name), let bad = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
                    throw RNNFormatError(.nonFinite, file: file, object: object(spec.name),
                                         "expected finite values, found \(tensor.scalars[bad]) at flat index \(bad)")
                }
            case .quantized(let q):
                guard spec.role.isWeight else {
                    throw RNNFormatError(.unsupportedType, file: file, object: object(spec.name),
                                         "expected a float bias, found int8 values")
                }
                if let bad = q.scales.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
                    throw RNNFormatError(.invalidAttribute, file: file, object: object(spec.name),
                                         "expected positive finite scales, found \(q.scales[bad]) at index \(bad)")
                }
            }
        }
        if let extra = parameters.keys.filter({ !expectedNames.contains($0) }).sorted().first {
            throw RNNFormatError(.unexpectedObject, file: file, object: object(extra),
                                 "unexpected in a \(config.kind.rawValue) with these hyperparameters (expected only \(expected.map(\.name).joined(separator: ", ")))")
        }
    }
}
