import RNNRuntime
import Testing
import RNNFormat

/// Wrong shapes and lengths throw an `RNNRuntimeError` naming the argument, the expected and
/// the actual shape; nothing crashes.
@Suite("Shape errors")
struct ShapeErrorTests {
    struct BadCall: Sendable, CustomTestStringConvertible {
        var name: String
        var config: ModuleConfig
        var input: [Int]
        var h0: [Int]? = nil
        var c0: [Int]? = nil
        var lengths: [Int]? = nil
        var error: RNNRuntimeError
        var testDescription: String { name }
    }

    static let gru = ModuleConfig(kind: .gru, inputSize: 5, hiddenSize: 7, numLayers: 2, bidirectional: true)
    static let lstmFirst = ModuleConfig(kind: .lstm, inputSize: 5, hiddenSize: 6, batchFirst: true, projSize: 3)
    static let cell = ModuleConfig(kind: .lstmCell, inputSize: 5, hiddenSize: 7)

    static let cases: [BadCall] = [
        BadCall(name: "input width", config: gru, input: [6, 3, 4],
                error: .shapeMismatch(module: "GRU", argument: "input", expected: "(T, 5), (T, B, 5) or (V, T, B, 5) with sizes >= 1", actual: [6, 3, 4])),
        BadCall(name: "input rank 1", config: gru, input: [5],
                error: .shapeMismatch(module: "GRU", argument: "input", expected: "(T, 5), (T, B, 5) or (V, T, B, 5) with sizes >= 1", actual: [5])),
        BadCall(name: "input rank 5", config: gru, input: [1, 1, 1, 1, 5],
                error: .shapeMismatch(module: "GRU", argument: "input", expected: "(T, 5), (T, B, 5) or (V, T, B, 5) with sizes >= 1", actual: [1, 1, 1, 1, 5])),
        BadCall(name: "empty sequence", config: gru, input: [0, 2, 5],
                error: .shapeMismatch(module: "GRU", argument: "input", expected: "(T, 5), (T, B, 5) or (V, T, B, 5) with sizes >= 1", actual: [0, 2, 5])),
        BadCall(name: "batch-first input", config: lstmFirst, input: [2, 6, 4],
                error: .shapeMismatch(module: "LSTM", argument: "input", expected: "(T, 5), (B, T, 5) or (V, B, T, 5) with sizes >= 1", actual: [2, 6, 4])),
        BadCall(name: "h0 batch", config: gru, input: [6, 3, 5], h0: [4, 2, 7],
                error: .shapeMismatch(module: "GRU", argument: "h0", expected: "(4, 3, 7)", actual: [4, 2, 7])),
        BadCall(name: "h0 unbatched for batched input", config: gru, input: [6, 3, 5], h0: [4, 7],
                error: .shapeMismatch(module: "GRU", argument: "h0", expected: "(4, 3, 7)", actual: [4, 7])),
        BadCall(name: "h0 batched for unbatched input", config: gru, input: [6, 5], h0: [4, 1, 7],
                error: .shapeMismatch(module: "GRU", argument: "h0", expected: "(4, 7)", actual: [4, 1, 7])),
        BadCall(name: "h0 projected size", config: lstmFirst, input: [2, 6, 5], h0: [1, 2, 6], c0: [1, 2, 6],
                error: .shapeMismatch(module: "LSTM", argument: "h0", expected: "(1, 2, 3)", actual: [1, 2, 6])),
        BadCall(name: "c0 hidden size", config: lstmFirst, input: [2, 6, 5], h0: [1, 2, 3], c0: [1, 2, 3],
                error: .shapeMismatch(module: "LSTM", argument: "c0", expected: "(1, 2, 6)", actual: [1, 2, 3])),
        BadCall(name: "c0 for a GRU", config: gru, input: [6, 3, 5], c0: [4, 3, 7],
                error: .unsupported(module: "GRU", message: "c0 given, but a GRU has no cell state")),
        BadCall(name: "leading h0", config: gru, input: [2, 6, 3, 5], h0: [4, 3, 7],
                error: .shapeMismatch(module: "GRU", argument: "h0", expected: "(2, 4, 3, 7)", actual: [4, 3, 7])),
        BadCall(name: "lengths count", config: gru, input: [6, 3, 5], lengths: [6, 6],
                error: .shapeMismatch(module: "GRU", argument: "lengths", expected: "(3,)", actual: [2])),
        BadCall(name: "length too long", config: gru, input: [6, 3, 5], lengths: [6, 7, 1],
                error: .invalidLengths(module: "GRU", message: "expected every length in 1...6 (the sequence length), found 7 at index 1")),
        BadCall(name: "zero length", config: lstmFirst, input: [3, 6, 5], lengths: [0, 6, 1],
                error: .invalidLengths(module: "LSTM", message: "expected every length in 1...6 (the sequence length), found 0 at index 0")),
        BadCall(name: "lengths unbatched", config: gru, input: [6, 5], lengths: [6],
                error: .unsupported(module: "GRU", message: "lengths need a batched input, found unbatched (T, I) input")),
        BadCall(name: "cell input", config: cell, input: [3, 4],
                error: .shapeMismatch(module: "LSTMCell", argument: "input", expected: "(5,) or (..., B, 5) with sizes >= 1", actual: [3, 4])),
        BadCall(name: "cell scalar input", config: cell, input: [],
                error: .shapeMismatch(module: "LSTMCell", argument: "input", expected: "(5,) or (..., B, 5) with sizes >= 1", actual: [])),
        BadCall(name: "cell state leading dims", config: cell, input: [2, 3, 5], h0: [3, 7], c0: [2, 3, 7],
                error: .shapeMismatch(module: "LSTMCell", argument: "h0", expected: "(2, 3, 7)", actual: [3, 7])),
        BadCall(name: "cell lengths", config: cell, input: [3, 5], lengths: [1, 1, 1],
                error: .unsupported(module: "LSTMCell", message: "lengths apply to sequence modules only, not to LSTMCell")),
    ]

    @Test(arguments: cases)
    func throwsNamingExpectedAndActual(bad: BadCall) throws {
        var generator = SplitMix64(seed: 3)
        let module = try AnyModule(ModuleRecord(pytorchDefault: bad.config, using: &generator))
        func zeros(_ shape: [Int]?) throws -> Tensor? { try shape.map { try Tensor(zeros: $0) } }
        #expect {
            _ = try module(try Tensor(zeros: bad.input), h0: zeros(bad.h0), c0: zeros(bad.c0), lengths: bad.lengths)
        } throws: { error in
            (error as? RNNRuntimeError) == bad.error
        }
    }

    @Test func descriptionIsOneReadableLine() {
        let error = RNNRuntimeError.shapeMismatch(module: "GRU 'model.encoder'", argument: "input",
                                                  expected: "(T, B, 5)", actual: [6, 3, 4])
        #expect(error.description == "GRU 'model.encoder': input: expected shape (T, B, 5), found (6, 3, 4)")
        #expect(RNNRuntimeError.shapeMismatch(module: "GRUCell", argument: "input", expected: "(5,)", actual: [4]).description
            == "GRUCell: input: expected shape (5,), found (4,)")
    }

    @Test func errorsNameTheModulePath() throws {
        var generator = SplitMix64(seed: 3)
        let gru = try GRU(inputSize: 5, hiddenSize: 7, path: "model.encoder", using: &generator)
        #expect {
            _ = try gru(try Tensor(zeros: [6, 3, 4]))
        } throws: { error in
            (error as? RNNRuntimeError)?.description.hasPrefix("GRU 'model.encoder': input: expected shape") == true
        }
    }

    @Test func typedModulesRefuseOtherKinds() throws {
        var generator = SplitMix64(seed: 3)
        let record = try ModuleRecord(pytorchDefault: Self.cell, using: &generator)
        #expect {
            _ = try GRU(record)
        } throws: { error in
            (error as? RNNRuntimeError) == .unsupported(module: "LSTMCell", message: "expected a GRU record, found LSTMCell")
        }
    }

    @Test func mismatchedRecordsThrowTheFormatError() throws {
        var generator = SplitMix64(seed: 3)
        var record = try ModuleRecord(pytorchDefault: Self.gru, using: &generator)
        record.parameters["bias_hh_l1_reverse"] = .float(try Tensor(zeros: [20]), stored: .float32)
        #expect {
            _ = try GRU(record)
        } throws: { error in
            (error as? RNNFormatError)?.code == .shapeMismatch
        }
    }
}
