import RNNFormat
/// Any module of a model file, run by kind: what a tool that handles every kind uses
/// (`rnnconvert run`, benchmarks, quantization reports).
public struct AnyModule: RecurrentModule {
    let core: ModuleCore

    public var record: ModuleRecord { core.record }

    /// Loads any kind of module from a record.
    ///
    /// - Throws: `RNNFormatError` when the parameters do not fit the hyperparameters.
    public init(_ record: ModuleRecord) throws {
        core = try ModuleCore(record: record, kinds: nil)
    }

    /// Wraps a typed module.
    public init(_ module: some RecurrentModule) throws {
        try self.init(module.record)
    }

    /// Runs the module with the semantics of its PyTorch class.
    ///
    /// - Parameters:
    ///   - input: sequence modules (T, B, I) / (B, T, I) when batch-first, (T, I) unbatched,
    ///     or with a leading V; cells (..., I).
    ///   - h0: initial h in PyTorch's shape for the input; zeros when nil.
    ///   - c0: initial c (LSTM kinds); zeros when nil.
    ///   - lengths: sequence modules only: valid steps per batch element (packed semantics).
    /// - Returns: `output` (nil for cells), `h` (`h_n` or `h'`), `c` (`c_n` or `c'`, LSTM kinds).
    /// - Throws: `RNNRuntimeError` naming the argument, the expected and the actual shape.
    public func callAsFunction(_ input: Tensor, h0: Tensor? = nil, c0: Tensor? = nil, lengths: [Int]? = nil) throws -> ModuleOutput {
        try core.run(input, h0: h0, c0: c0, lengths: lengths)
    }

    /// A zero streaming state for `batchSize` streams, or one unbatched stream when nil.
    public func initialState(batchSize: Int? = nil) -> StreamingState {
        core.initialState(batchSize: batchSize)
    }

    /// Runs one chunk of a stream (one step's input for cells) and carries `state` forward.
    ///
    /// - Returns: the chunk's output for sequence modules, h' for cells.
    /// - Throws: `RNNRuntimeError` for shape mismatches or a bidirectional module.
    public func step(_ chunk: Tensor, state: inout StreamingState) throws -> Tensor {
        try core.step(chunk, state: &state)
    }
}
