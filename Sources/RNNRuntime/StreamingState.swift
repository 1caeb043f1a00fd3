import RNNFormat
/// The recurrent state carried between chunks of a stream: a value the caller owns.
///
/// Feeding a sequence chunk by chunk through `step(_:state:)` gives the same outputs and final
/// state as one call over the whole sequence. `h` and `c` have the shapes of `h_n` and `c_n`:
/// (L, B, Hout) and (L, B, H), or (L, Hout) and (L, H) for unbatched streams; for cells, the
/// shapes of `h'` and `c'`.
public struct StreamingState: Sendable, Hashable {
    public var h: Tensor
    /// LSTM kinds only.
    public var c: Tensor?
    /// The stream's workspace, kept from one step to the next so that a step allocates only
    /// its output (the new state is written over `h` and `c` when no copy shares their
    /// storage). Not part of the value: `==` and hashing ignore it, and a step uses it only
    /// while this state holds the sole reference (copies of a state never share it at once).
    /// It refers to the prepared weights of the module that stepped the state last.
    var scratch: RecurrenceWorkspace?

    public init(h: Tensor, c: Tensor? = nil) {
        self.h = h
        self.c = c
    }

    public static func == (a: StreamingState, b: StreamingState) -> Bool {
        a.h == b.h && a.c == b.c
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(h)
        hasher.combine(c)
    }
}

extension ModuleCore {
    /// A zero state for `batchSize` streams, or one unbatched stream when nil.
    func initialState(batchSize: Int?) -> StreamingState {
        let config = record.config
        let batch = batchSize.map { [$0] } ?? []
        if config.kind.isCell {
            return StreamingState(h: Tensor.zeros(batch + [config.hiddenSize]),
                                  c: config.kind.hasCellState ? Tensor.zeros(batch + [config.hiddenSize]) : nil)
        }
        return StreamingState(h: Tensor.zeros([config.numLayers] + batch + [config.outputSize]),
                              c: config.kind.hasCellState ? Tensor.zeros([config.numLayers] + batch + [config.hiddenSize]) : nil)
    }

    /// Runs one chunk from `state` and replaces `state` with the state after the chunk.
    ///
    /// - Returns: the chunk's output (sequence modules) or `h'` (cells).
    /// - Throws: `RNNRuntimeError.unsupported` for bidirectional modules; shape errors as a call.
    func step(_ chunk: Tensor, state: inout StreamingState) throws -> Tensor {
        if record.config.bidirectional {
            throw RNNRuntimeError.unsupported(module: weights.label,
                                              message: "streaming needs a unidirectional module: the reverse direction starts at the end of the sequence")
        }
        if state.c == nil && record.config.kind.hasCellState {
            throw RNNRuntimeError.unsupported(module: weights.label, message: "state.c is missing; an \(record.config.kind.rawValue) state carries h and c")
        }
        let output = try weights.step(chunk, state: &state)
        return output ?? state.h
    }
}
