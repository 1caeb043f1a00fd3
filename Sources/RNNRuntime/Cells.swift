import RNNFormat
/// A single GRU step with the semantics of `torch.nn.GRUCell`.
///
/// Inputs may carry any number of leading dimensions: (I) unbatched, (B, I), or (..., B, I)
/// for independent stacked batches as `torch.vmap` gives; the state has the same leading
/// dimensions with H (`hiddenSize`) last.
public struct GRUCell: RecurrentModule {
    let core: ModuleCore

    public var record: ModuleRecord { core.record }

    /// Loads a GRUCell from a record.
    ///
    /// - Throws: `RNNFormatError` when the parameters do not fit the hyperparameters;
    ///   `RNNRuntimeError` for a record of another kind.
    public init(_ record: ModuleRecord) throws {
        core = try ModuleCore(record: record, kinds: [.gruCell])
    }

    /// A new GRUCell with PyTorch's default initialisation U(-1/√hiddenSize, 1/√hiddenSize).
    ///
    /// - Throws: `RNNFormatError(.invalidAttribute)` for invalid sizes.
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, path: String = "",
                using generator: inout some RandomNumberGenerator) throws {
        core = try ModuleCore(config: ModuleConfig(kind: .gruCell, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias),
                              path: path, generator: &generator)
    }

    /// One step: h' from the input and the previous h.
    ///
    /// - Parameters:
    ///   - input: (..., I).
    ///   - h: (..., H) with the input's leading dimensions; zeros when nil.
    /// - Returns: h', (..., H).
    /// - Throws: `RNNRuntimeError.shapeMismatch` naming the argument.
    public func callAsFunction(_ input: Tensor, _ h: Tensor? = nil) throws -> Tensor {
        try core.run(input, h0: h, c0: nil, lengths: nil).h
    }
}

/// A single LSTM step with the semantics of `torch.nn.LSTMCell`.
///
/// Inputs may carry any number of leading dimensions: (I) unbatched, (B, I), or (..., B, I);
/// h and c have the same leading dimensions with H (`hiddenSize`) last.
public struct LSTMCell: RecurrentModule {
    let core: ModuleCore

    public var record: ModuleRecord { core.record }

    /// Loads an LSTMCell from a record.
    ///
    /// - Throws: `RNNFormatError` when the parameters do not fit the hyperparameters;
    ///   `RNNRuntimeError` for a record of another kind.
    public init(_ record: ModuleRecord) throws {
        core = try ModuleCore(record: record, kinds: [.lstmCell])
    }

    /// A new LSTMCell with PyTorch's default initialisation U(-1/√hiddenSize, 1/√hiddenSize).
    ///
    /// - Throws: `RNNFormatError(.invalidAttribute)` for invalid sizes.
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, path: String = "",
                using generator: inout some RandomNumberGenerator) throws {
        core = try ModuleCore(config: ModuleConfig(kind: .lstmCell, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias),
                              path: path, generator: &generator)
    }

    /// One step: (h', c') from the input and the previous (h, c).
    ///
    /// - Parameters:
    ///   - input: (..., I).
    ///   - state: h and c, each (..., H) with the input's leading dimensions; zeros when nil.
    /// - Returns: h' and c', each (..., H).
    /// - Throws: `RNNRuntimeError.shapeMismatch` naming the argument.
    public func callAsFunction(_ input: Tensor, _ state: (h: Tensor, c: Tensor)? = nil) throws -> (h: Tensor, c: Tensor) {
        let result = try core.run(input, h0: state?.h, c0: state?.c, lengths: nil)
        return (result.h, result.c!)
    }
}

/// A single Elman RNN step with the semantics of `torch.nn.RNNCell` (tanh or ReLU).
///
/// Inputs may carry any number of leading dimensions: (I) unbatched, (B, I), or (..., B, I);
/// the state has the same leading dimensions with H (`hiddenSize`) last.
public struct RNNCell: RecurrentModule {
    let core: ModuleCore

    public var record: ModuleRecord { core.record }

    /// Loads an RNNCell from a record.
    ///
    /// - Throws: `RNNFormatError` when the parameters do not fit the hyperparameters;
    ///   `RNNRuntimeError` for a record of another kind.
    public init(_ record: ModuleRecord) throws {
        core = try ModuleCore(record: record, kinds: [.rnnCell])
    }

    /// A new RNNCell with PyTorch's default initialisation U(-1/√hiddenSize, 1/√hiddenSize).
    ///
    /// - Throws: `RNNFormatError(.invalidAttribute)` for invalid sizes.
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, nonlinearity: Nonlinearity = .tanh, path: String = "",
                using generator: inout some RandomNumberGenerator) throws {
        core = try ModuleCore(config: ModuleConfig(kind: .rnnCell, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias,
                                                   nonlinearity: nonlinearity),
                              path: path, generator: &generator)
    }

    /// One step: h' from the input and the previous h.
    ///
    /// - Parameters:
    ///   - input: (..., I).
    ///   - h: (..., H) with the input's leading dimensions; zeros when nil.
    /// - Returns: h', (..., H).
    /// - Throws: `RNNRuntimeError.shapeMismatch` naming the argument.
    public func callAsFunction(_ input: Tensor, _ h: Tensor? = nil) throws -> Tensor {
        try core.run(input, h0: h, c0: nil, lengths: nil).h
    }
}
