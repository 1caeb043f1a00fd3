import RNNRuntime
import RNNFormat
/// What `rnnconvert inspect` shows about a model file: plain values, `Codable` for `--json`.
public struct ModelSummary: Sendable, Hashable, Codable {
    /// The container the modules were read from: "hdf5", "torch.save" or "safetensors".
    public var source: SourceFormat
    /// "rnnkit" for files declaring the format, nil for bare dumps and checkpoints.
    public var format: String?
    public var formatVersion: String?
    public var producer: String?
    public var user: [String: String]
    public var modules: [ModuleSummary]
    public var leftovers: [String]

    enum CodingKeys: String, CodingKey {
        case source, format, formatVersion = "format_version", producer, user, modules, leftovers
    }

    public init(_ model: ModelFile, source: SourceFormat) {
        self.source = source
        format = model.metadata.formatVersion == nil ? nil : FileMetadata.formatName
        formatVersion = model.metadata.formatVersion?.description
        producer = model.metadata.producer
        user = model.metadata.user
        modules = model.modules.map(ModuleSummary.init)
        leftovers = model.leftovers
    }
}

/// One module of a `ModelSummary`.
public struct ModuleSummary: Sendable, Hashable, Codable {
    /// Dotted state_dict prefix ("" at the root).
    public var path: String
    /// HDF5 group of the module in a canonical file.
    public var group: String
    public var kind: ModuleKind
    public var inputSize: Int
    public var hiddenSize: Int
    public var numLayers: Int
    public var directions: Int
    /// 0 without projection.
    public var projSize: Int
    public var batchFirst: Bool
    public var bias: Bool
    public var dropout: Double
    /// RNN and RNNCell only.
    public var nonlinearity: Nonlinearity?
    /// Element types as stored, joined by "+" (e.g. "float32", "int8+float32").
    public var dtype: String
    /// "none", "per_tensor" or "per_channel".
    public var quantization: String
    public var parameterCount: Int
    /// Bytes of the stored values (scales and zero points included for int8).
    public var bytes: Int

    enum CodingKeys: String, CodingKey {
        case path, group, kind, inputSize = "input_size", hiddenSize = "hidden_size", numLayers = "num_layers"
        case directions, projSize = "proj_size", batchFirst = "batch_first", bias, dropout, nonlinearity
        case dtype, quantization, parameterCount = "parameter_count", bytes
    }

    public init(_ module: ModuleRecord) {
        let c = module.config
        path = module.path
        group = module.groupPath
        kind = c.kind
        inputSize = c.inputSize
        hiddenSize = c.hiddenSize
        numLayers = c.numLayers
        directions = c.numDirections
        projSize = c.projSize
        batchFirst = c.batchFirst
        bias = c.bias
        dropout = c.dropout
        nonlinearity = c.kind.hasNonlinearity ? c.nonlinearity : nil
        let types = Set(module.parameters.values.map(\.storedType))
        dtype = ElementType.allCases.filter(types.contains).map(\.rawValue).reversed().joined(separator: "+")
        quantization = module.quantization?.rawValue ?? "none"
        parameterCount = c.parameterCount
        bytes = module.storedBytes
    }
}
