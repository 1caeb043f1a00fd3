/// Names of the attributes spec/FORMAT.md defines, shared by the reader and the writer.
enum HDF5Layout {
    // Root (file metadata).
    static let format = "format"
    static let formatVersion = "format_version"
    static let producer = "producer"
    /// User metadata lives in root attributes `user.<key>` (string values).
    static let userPrefix = "user."

    // Module groups: `module` plus PyTorch's constructor arguments.
    static let module = "module"
    static let inputSize = "input_size"
    static let hiddenSize = "hidden_size"
    static let numLayers = "num_layers"
    static let bias = "bias"
    static let batchFirst = "batch_first"
    static let dropout = "dropout"
    static let bidirectional = "bidirectional"
    static let projSize = "proj_size"
    static let nonlinearity = "nonlinearity"
    static let hyperparameters: Set<String> = [
        inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, projSize, nonlinearity,
    ]

    // Tensor datasets.
    static let checksum = "sha256"
    static let scale = "scale"
    static let zeroPoint = "zero_point"
    static let quantization = "quantization"
    static let datasetAttributes: Set<String> = [checksum, scale, zeroPoint, quantization]

    /// Every attribute name the spec defines, on any object.
    static let knownAttributes: [String] =
        [format, formatVersion, producer, module] + hyperparameters.sorted() + datasetAttributes.sorted()

    /// The constructor arguments PyTorch's class `kind` takes, in its signature's order:
    /// what the writer stores, so `getattr(torch.nn, module)(**attrs)` rebuilds the module.
    static func constructorArguments(_ kind: ModuleKind) -> [String] {
        switch kind {
        case .gru: [inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional]
        case .lstm: [inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, projSize]
        case .rnn: [inputSize, hiddenSize, numLayers, nonlinearity, bias, batchFirst, dropout, bidirectional]
        case .gruCell, .lstmCell: [inputSize, hiddenSize, bias]
        case .rnnCell: [inputSize, hiddenSize, bias, nonlinearity]
        }
    }

    /// The 8-byte HDF5 signature, found at offset 0 or at 512, 1024, 2048, ... after a user block.
    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
}
