/// Choices that names and shapes cannot tell: what a bare dump or checkpoint does not record.
public struct InferenceOptions: Sendable, Hashable {
    public var batchFirst: Bool
    public var nonlinearity: Nonlinearity

    public init(batchFirst: Bool = false, nonlinearity: Nonlinearity = .tanh) {
        self.batchFirst = batchFirst
        self.nonlinearity = nonlinearity
    }
}

/// How errors name an object: by HDF5 path (`/model/encoder/weight_hh_l0`) or by state_dict
/// key (`model.encoder.weight_hh_l0`), whichever the user's file uses.
public enum ObjectNaming: Sendable, Hashable {
    case hdf5
    case stateDict

    /// The name of `parameter` of the module at `prefix` in this naming.
    public func name(prefix: String, _ parameter: String) -> String {
        switch self {
        case .hdf5:
            let group = prefix.isEmpty ? "" : "/" + String(prefix.map { $0 == "." ? "/" : $0 })
            return parameter.isEmpty ? (group.isEmpty ? "/" : group) : group + "/" + parameter
        case .stateDict:
            return prefix.isEmpty ? parameter : (parameter.isEmpty ? prefix : prefix + "." + parameter)
        }
    }
}

/// Finds RNN modules among flat state_dict tensors and infers what they are.
///
/// The rules are spec/FORMAT.md "Inferring a module": the kind from the gate multiple of
/// `weight_ih` rows over the hidden size, layers and directions from the names, projections
/// from `weight_hr`. Used alike for bare h5py dumps, PyTorch checkpoints and safetensors.
public enum ModuleInference {
    /// The result of scanning a flat set of tensors.
    public struct Assembly: Sendable {
        /// Modules found, sorted by path.
        public var modules: [ModuleRecord]
        /// Keys that belong to no RNN module (embeddings, heads, optimizer state), sorted.
        public var leftovers: [String]
    }

    /// Groups `tensors` (dotted state_dict keys) by prefix, infers and validates every RNN module.
    ///
    /// A prefix is an RNN module when it holds `weight_ih_l0` and `weight_hh_l0`, or the cell
    /// names `weight_ih` and `weight_hh`; its RNN-named tensors are taken, anything else is left over.
    /// A prefix with RNN-named tensors but neither pair is an error, not a leftover.
    /// - Throws: `RNNFormatError` when a module's tensors contradict each other.
    public static func assemble(
        _ tensors: [String: Parameter], options: InferenceOptions = InferenceOptions(),
        file: String, naming: ObjectNaming = .stateDict
    ) throws -> Assembly {
        var byPrefix: [String: [String: Parameter]] = [:]
        var leftovers: [String] = []
        for (key, value) in tensors {
            let (prefix, name) = splitStateDictKey(key)
            if ParameterName(name) != nil {
                byPrefix[prefix, default: [:]][name] = value
            } else {
                leftovers.append(key)
            }
        }
        var modules: [ModuleRecord] = []
        for (prefix, params) in byPrefix {
            guard isModule(params.keys) else {
                // RNN names are distinctive: a group holding some but not the layer-0 (or cell)
                // input and hidden weights is a broken module, not someone else's tensors.
                let found = params.keys.sorted().joined(separator: ", ")
                let needed = params.keys.contains { ParameterName($0)?.isCellName == true }
                    ? "weight_ih and weight_hh" : "weight_ih_l0 and weight_hh_l0"
                throw RNNFormatError(.missingTensor, file: file, object: naming.name(prefix: prefix, ""),
                                     "found \(found) but not \(needed)")
            }
            let config = try inferConfig(
                shapes: params.mapValues(\.shape), options: options, file: file, prefix: prefix, naming: naming)
            let record = ModuleRecord(path: prefix, config: config, parameters: params)
            try record.validate(file: file, naming: naming)
            modules.append(record)
        }
        return Assembly(modules: modules.sorted { $0.path < $1.path }, leftovers: leftovers.sorted())
    }

    /// True when the names make a module: both input and hidden weights of layer 0 or of a cell.
    public static func isModule<S: Sequence>(_ names: S) -> Bool where S.Element == String {
        let set = Set(names)
        return (set.contains("weight_ih_l0") && set.contains("weight_hh_l0"))
            || (set.contains("weight_ih") && set.contains("weight_hh"))
    }

    /// Infers a module's hyperparameters from its parameter names and shapes.
    ///
    /// - Parameters:
    ///   - shapes: parameter name (no prefix) to shape, for one module.
    ///   - prefix: the module's dotted prefix, for error messages.
    /// - Throws: `RNNFormatError` with code `.unknownKind` or `.shapeMismatch` naming the tensor.
    public static func inferConfig(
        shapes: [String: [Int]], options: InferenceOptions = InferenceOptions(), file: String,
        prefix: String, naming: ObjectNaming = .stateDict
    ) throws -> ModuleConfig {
        func object(_ name: String) -> String { naming.name(prefix: prefix, name) }
        func fail(_ code: RNNFormatError.Code, _ name: String, _ message: String) -> RNNFormatError {
            RNNFormatError(code, file: file, object: object(name), message)
        }
        func matrix(_ name: String) throws -> (rows: Int, cols: Int) {
            guard let shape = shapes[name] else {
                throw fail(.missingTensor, name, "expected tensor \(name), found none")
            }
            guard shape.count == 2 else {
                throw fail(.shapeMismatch, name, "expected a matrix (rank 2), found shape \(shape)")
            }
            return (shape[0], shape[1])
        }

        let parsed = shapes.keys.compactMap { name in ParameterName(name).map { (name, $0) } }
        let cellNames = parsed.filter { $0.1.isCellName }
        let layerNames = parsed.filter { !$0.1.isCellName }
        if !cellNames.isEmpty && !layerNames.isEmpty {
            throw fail(.unknownKind, "", "mixes cell names (\(cellNames.map(\.0).min() ?? "")) with layer names (\(layerNames.map(\.0).min() ?? ""))")
        }
        let isCell = !cellNames.isEmpty
        let ih = try matrix(isCell ? "weight_ih" : "weight_ih_l0")
        let hh = try matrix(isCell ? "weight_hh" : "weight_hh_l0")

        var projSize = 0
        var hidden = hh.cols
        if !isCell, shapes["weight_hr_l0"] != nil {
            let hr = try matrix("weight_hr_l0")
            projSize = hr.rows
            hidden = hr.cols
            guard hh.cols == projSize else {
                throw fail(.shapeMismatch, "weight_hh_l0", "expected \(projSize) columns (the rows of weight_hr_l0), found shape [\(hh.rows), \(hh.cols)]")
            }
        }
        guard hidden > 0, ih.rows > 0, ih.rows % hidden == 0 else {
            throw fail(.unknownKind, isCell ? "weight_ih" : "weight_ih_l0",
                       "rows (\(ih.rows)) are not 1, 3 or 4 times the hidden size (\(hidden))")
        }
        let gates = ih.rows / hidden
        let kind: ModuleKind
        switch (gates, isCell) {
        case (1, false): kind = .rnn
        case (3, false): kind = .gru
        case (4, false): kind = .lstm
        case (1, true): kind = .rnnCell
        case (3, true): kind = .gruCell
        case (4, true): kind = .lstmCell
        default:
            throw fail(.unknownKind, isCell ? "weight_ih" : "weight_ih_l0",
                       "rows (\(ih.rows)) are \(gates) times the hidden size (\(hidden)); expected 1 (RNN), 3 (GRU) or 4 (LSTM)")
        }
        if projSize > 0 && kind != .lstm {
            throw fail(.unknownKind, "weight_hr_l0", "projections exist only for LSTM, but the gate multiple \(gates) says \(kind.rawValue)")
        }

        var numLayers = 1
        var bidirectional = false
        if !isCell {
            let layers = Set(layerNames.compactMap { $0.1.layer })
            numLayers = (layers.max() ?? 0) + 1
            bidirectional = layerNames.contains { $0.1.reverse }
        }
        let bias = shapes[isCell ? "bias_ih" : "bias_ih_l0"] != nil || shapes[isCell ? "bias_hh" : "bias_hh_l0"] != nil
        return ModuleConfig(
            kind: kind, inputSize: ih.cols, hiddenSize: hidden, numLayers: numLayers, bias: bias,
            batchFirst: isCell ? false : options.batchFirst, dropout: 0, bidirectional: bidirectional,
            projSize: projSize, nonlinearity: kind.hasNonlinearity ? options.nonlinearity : .tanh)
    }
}
