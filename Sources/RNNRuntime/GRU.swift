import RNNFormat
/// A multi-layer gated recurrent unit with the inference semantics of `torch.nn.GRU`.
///
/// Shapes use T for time steps, B for the batch, I for `inputSize`, D for directions (2 when
/// bidirectional), Hout for `hiddenSize` and L for `numLayers`.
public struct GRU: RecurrentModule {
    let core: ModuleCore

    public var record: ModuleRecord { core.record }

    /// Loads a GRU from a record.
    ///
    /// - Throws: `RNNFormatError` when the parameters do not fit the hyperparameters;
    ///   `RNNRuntimeError` for a record of another kind.
    public init(_ record: ModuleRecord) throws {
        core = try ModuleCore(record: record, kinds: [.gru])
    }

    /// A new GRU with PyTorch's default initialisation U(-1/√hiddenSize, 1/√hiddenSize).
    ///
    /// - Parameters:
    ///   - path: the state_dict prefix the module is saved under ("" for the root).
    ///   - generator: the source of the initial values (a seeded `SplitMix64` for reproducible models).
    /// - Throws: `RNNFormatError(.invalidAttribute)` for invalid sizes.
    public init(
        inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
        dropout: Double = 0, bidirectional: Bool = false, path: String = "",
        using generator: inout some RandomNumberGenerator
    ) throws {
        let config = ModuleConfig(kind: .gru, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias,
                                  batchFirst: batchFirst, dropout: dropout, bidirectional: bidirectional)
        core = try ModuleCore(config: config, path: path, generator: &generator)
    }

    /// Runs the GRU over a sequence.
    ///
    /// - Parameters:
    ///   - input: (T, B, I), or (B, T, I) when `batchFirst`; (T, I) unbatched; a leading V for
    ///     independent stacked batches: (V, T, B, I) or (V, B, T, I).
    ///   - h0: (L·D, B, Hout), (L·D, Hout) unbatched, (V, L·D, B, Hout); zeros when nil.
    ///   - lengths: valid steps of each batch element (B values, or V·B with a leading V), in any
    ///     order, each in 1...T: packed-sequence semantics.
    /// - Returns: `output` (T, B, D·Hout) laid out like the input, zero past each length;
    ///   `hN` (L·D, B, Hout) laid out like `h0`, each element's last valid step.
    /// - Throws: `RNNRuntimeError` naming the argument, the expected and the actual shape.
    public func callAsFunction(_ input: Tensor, _ h0: Tensor? = nil, lengths: [Int]? = nil) throws -> (output: Tensor, hN: Tensor) {
        let result = try core.run(input, h0: h0, c0: nil, lengths: lengths)
        return (result.output!, result.h)
    }

    /// A zero streaming state: h (L, B, Hout), or (L, Hout) when `batchSize` is nil (unbatched).
    public func initialState(batchSize: Int? = nil) -> StreamingState {
        core.initialState(batchSize: batchSize)
    }

    /// Runs one chunk of a stream and carries `state` forward; chunks concatenated give the
    /// same result as one call.
    ///
    /// - Parameters:
    ///   - chunk: (T, B, I), (B, T, I) when `batchFirst`, or (T, I) for an unbatched stream; T >= 1.
    ///   - state: the state after the previous chunk, replaced by the state after this one.
    /// - Returns: the chunk's output, (T, B, Hout) laid out like the chunk.
    /// - Throws: `RNNRuntimeError` for shape mismatches or a bidirectional GRU.
    public func step(_ chunk: Tensor, state: inout StreamingState) throws -> Tensor {
        try core.step(chunk, state: &state)
    }
}
