/// Names of the attributes spec/FORMAT.md defines, shared by the reader and the writer.
package enum HDF5Layout {
    // Root (file metadata).
    package static let format = "format"
    package static let formatVersion = "format_version"
    package static let producer = "producer"
    /// User metadata lives in root attributes `user.<key>` (string values).
    package static let userPrefix = "user."

    // Module groups: `module` plus PyTorch's constructor arguments.
    package static let module = "module"
    package static let inputSize = "input_size"
    package static let hiddenSize = "hidden_size"
    package static let numLayers = "num_layers"
    package static let bias = "bias"
    package static let batchFirst = "batch_first"
    package static let dropout = "dropout"
    package static let bidirectional = "bidirectional"
    package static let projSize = "proj_size"
    package static let nonlinearity = "nonlinearity"
    /// GRU kinds: 0 for the reset-before formulation (ONNX's name); absent means 1 (PyTorch's).
    /// Not a PyTorch constructor argument: PyTorch has no such GRU.
    package static let linearBeforeReset = "linear_before_reset"
    package static let hyperparameters: Set<String> = [
        inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, projSize, nonlinearity, linearBeforeReset,
    ]

    // Tensor datasets.
    package static let checksum = "sha256"
    package static let scale = "scale"
    package static let zeroPoint = "zero_point"
    package static let quantization = "quantization"
    package static let datasetAttributes: Set<String> = [checksum, scale, zeroPoint, quantization]

    /// Every attribute name the spec defines, on any object.
    package static let knownAttributes: [String] =
        [format, formatVersion, producer, module] + hyperparameters.sorted() + datasetAttributes.sorted()

    /// The constructor arguments PyTorch's class `kind` takes, in its signature's order:
    /// what the writer stores, so `getattr(torch.nn, module)(**attrs)` rebuilds the module.
    package static func constructorArguments(_ kind: ModuleKind) -> [String] {
        switch kind {
        case .gru: [inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional]
        case .lstm: [inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, projSize]
        case .rnn: [inputSize, hiddenSize, numLayers, nonlinearity, bias, batchFirst, dropout, bidirectional]
        case .gruCell, .lstmCell: [inputSize, hiddenSize, bias]
        case .rnnCell: [inputSize, hiddenSize, bias, nonlinearity]
        }
    }

    /// The 8-byte HDF5 signature, found at offset 0 or at 512, 1024, 2048, ... after a user block.
    package static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
}
