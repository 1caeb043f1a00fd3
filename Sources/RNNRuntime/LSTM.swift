import RNNFormat
/// A multi-layer long short-term memory with the inference semantics of `torch.nn.LSTM`,
/// including `projSize` (each step's h is projected by `weight_hr`).
///
/// Shapes use T for time steps, B for the batch, I for `inputSize`, D for directions (2 when
/// bidirectional), H for `hiddenSize`, Hout for `projSize` when it is > 0 and `hiddenSize`
/// otherwise, and L for `numLayers`.
public struct LSTM: RecurrentModule {
    let core: ModuleCore

    public var record: ModuleRecord { core.record }

    /// Loads an LSTM from a record.
    ///
    /// - Throws: `RNNFormatError` when the parameters do not fit the hyperparameters;
    ///   `RNNRuntimeError` for a record of another kind.
    public init(_ record: ModuleRecord) throws {
        core = try ModuleCore(record: record, kinds: [.lstm])
    }

    /// A new LSTM with PyTorch's default initialisation U(-1/√hiddenSize, 1/√hiddenSize).
    ///
    /// - Parameters:
    ///   - projSize: size of the projected h (0 for none; must be below `hiddenSize`).
    ///   - path: the state_dict prefix the module is saved under ("" for the root).
    ///   - generator: the source of the initial values (a seeded `SplitMix64` for reproducible models).
    /// - Throws: `RNNFormatError(.invalidAttribute)` for invalid sizes.
    public init(
        inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
        dropout: Double = 0, bidirectional: Bool = false, projSize: Int = 0, path: String = "",
        using generator: inout some RandomNumberGenerator
    ) throws {
        let config = ModuleConfig(kind: .lstm, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias,
                                  batchFirst: batchFirst, dropout: dropout, bidirectional: bidirectional, projSize: projSize)
        core = try ModuleCore(config: config, path: path, generator: &generator)
    }

    /// Runs the LSTM over a sequence.
    ///
    /// - Parameters:
    ///   - input: (T, B, I), or (B, T, I) when `batchFirst`; (T, I) unbatched; a leading V for
    ///     independent stacked batches: (V, T, B, I) or (V, B, T, I).
    ///   - state: `h0` (L·D, B, Hout) and `c0` (L·D, B, H); (L·D, Hout) and (L·D, H) unbatched;
    ///     with a leading V when the input has one. Zeros when nil.
    ///   - lengths: valid steps of each batch element (B values, or V·B with a leading V), in any
    ///     order, each in 1...T: packed-sequence semantics.
    /// - Returns: `output` (T, B, D·Hout) laid out like the input, zero past each length;
    ///   `hN` (L·D, B, Hout) and `cN` (L·D, B, H), each element's last valid step.
    /// - Throws: `RNNRuntimeError` naming the argument, the expected and the actual shape.
    public func callAsFunction(
        _ input: Tensor, _ state: (h0: Tensor, c0: Tensor)? = nil, lengths: [Int]? = nil
    ) throws -> (output: Tensor, hN: Tensor, cN: Tensor) {
        let result = try core.run(input, h0: state?.h0, c0: state?.c0, lengths: lengths)
        return (result.output!, result.h, result.c!)
    }

    /// A zero streaming state: h (L, B, Hout) and c (L, B, H), without B when `batchSize` is nil.
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
    /// - Throws: `RNNRuntimeError` for shape mismatches or a bidirectional LSTM.
    public func step(_ chunk: Tensor, state: inout StreamingState) throws -> Tensor {
        try core.step(chunk, state: &state)
    }
}
