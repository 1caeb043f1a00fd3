import RNNRuntime
import Testing
import RNNFormat

/// Inputs a caller gets wrong, and values PyTorch passes through: each either throws a typed
/// error naming the argument, or (NaN) gives PyTorch's result. Complements ShapeErrorTests.
@Suite("Bad runtime inputs")
struct BadInputTests {
    static let gru = ModuleConfig(kind: .gru, inputSize: 5, hiddenSize: 7)
    static let lstm = ModuleConfig(kind: .lstm, inputSize: 5, hiddenSize: 6, numLayers: 2)

    static func module(_ config: ModuleConfig) throws -> AnyModule {
        var generator = SplitMix64(seed: 11)
        return try AnyModule(ModuleRecord(pytorchDefault: config, using: &generator))
    }

    /// A (T, B, I) input with distinct finite values.
    static func input(_ t: Int, _ b: Int, _ i: Int) throws -> Tensor {
        try Tensor(shape: [t, b, i], scalars: (0..<(t * b * i)).map { Float(($0 * 37) % 23) / 23 - 0.5 })
    }

    @Test("lengths that are negative, zero or beyond T are refused", arguments: [-1, 0, 7, Int.max, Int.min])
    func badLength(length: Int) throws {
        let gru = try Self.module(Self.gru)
        #expect {
            _ = try gru(Self.input(6, 3, 5), lengths: [6, length, 2])
        } throws: { error in
            (error as? RNNRuntimeError) == .invalidLengths(
                module: "GRU", message: "expected every length in 1...6 (the sequence length), found \(length) at index 1")
        }
    }

    @Test("a batch of zero, or an input of zero width, is refused", arguments: [[6, 0, 5], [6, 3, 0], [0, 5]])
    func emptyDimensions(shape: [Int]) throws {
        let gru = try Self.module(Self.gru)
        #expect {
            _ = try gru(try Tensor(zeros: shape))
        } throws: { error in
            (error as? RNNRuntimeError) == .shapeMismatch(
                module: "GRU", argument: "input", expected: "(T, 5), (T, B, 5) or (V, T, B, 5) with sizes >= 1", actual: shape)
        }
    }

    @Test("h0 and c0 whose batch differs from the input's are refused, each named")
    func stateBatchMismatch() throws {
        let lstm = try Self.module(Self.lstm)
        let input = try Self.input(4, 3, 5)
        #expect {
            _ = try lstm(input, h0: try Tensor(zeros: [2, 3, 6]), c0: try Tensor(zeros: [2, 2, 6]))
        } throws: { error in
            (error as? RNNRuntimeError) == .shapeMismatch(module: "LSTM", argument: "c0", expected: "(2, 3, 6)", actual: [2, 2, 6])
        }
        #expect {
            _ = try lstm(input, h0: try Tensor(zeros: [2, 4, 6]), c0: try Tensor(zeros: [2, 3, 6]))
        } throws: { error in
            (error as? RNNRuntimeError) == .shapeMismatch(module: "LSTM", argument: "h0", expected: "(2, 3, 6)", actual: [2, 4, 6])
        }
        #expect {
            _ = try lstm(input, h0: try Tensor(zeros: [1, 3, 6]))
        } throws: { error in
            (error as? RNNRuntimeError) == .shapeMismatch(module: "LSTM", argument: "h0", expected: "(2, 3, 6)", actual: [1, 3, 6])
        }
    }

    @Test("a streaming chunk whose batch differs from the state's is refused")
    func streamingBatchMismatch() throws {
        let gru = try Self.module(Self.gru)
        var state = gru.initialState(batchSize: 2)
        #expect(throws: RNNRuntimeError.self) { _ = try gru.step(Self.input(3, 3, 5), state: &state) }
        // The state is still usable with the right batch.
        let output = try gru.step(Self.input(3, 2, 5), state: &state)
        #expect(output.shape == [3, 2, 7])
    }

    /// Documented behaviour (README.md, "Security"): NaN is not an error. As in PyTorch it
    /// propagates through the recurrence of the batch element it is in, from its step on, and
    /// leaves the other batch elements bit for bit unchanged.
    @Test("a NaN input propagates like PyTorch: its element from its step on, nothing else", arguments: [gru, lstm])
    func nanPropagates(config: ModuleConfig) throws {
        let module = try Self.module(config)
        let clean = try Self.input(6, 3, 5)
        var poisoned = clean
        let (step, element) = (2, 1)
        poisoned[flat: (step * 3 + element) * 5 + 4] = .nan
        let expected = try module(clean)
        let result = try module(poisoned)
        let output = try #require(result.output)
        let reference = try #require(expected.output)
        let width = output.shape[2]
        for t in 0..<6 {
            for b in 0..<3 {
                let row = Array(output.scalars[((t * 3 + b) * width)..<((t * 3 + b + 1) * width)])
                let cleanRow = Array(reference.scalars[((t * 3 + b) * width)..<((t * 3 + b + 1) * width)])
                if b == element && t >= step {
                    #expect(row.allSatisfy { $0.isNaN }, "step \(t), element \(b)")
                } else {
                    // Tolerance 0: batch elements never mix.
                    #expect(row == cleanRow, "step \(t), element \(b)")
                }
            }
        }
        // h_n: the poisoned element's rows are NaN, the others equal the clean run.
        let hidden = result.h.shape[2]
        for layer in 0..<result.h.shape[0] {
            for b in 0..<3 {
                let at = (layer * 3 + b) * hidden
                let row = Array(result.h.scalars[at..<(at + hidden)])
                if b == element {
                    #expect(row.allSatisfy { $0.isNaN })
                } else {
                    #expect(row == Array(expected.h.scalars[at..<(at + hidden)]))
                }
            }
        }
    }

    @Test("a NaN initial state propagates to its element only")
    func nanState() throws {
        let gru = try Self.module(Self.gru)
        var h0 = try Tensor(zeros: [1, 3, 7])
        h0[flat: 7 + 3] = .nan  // element 1
        let result = try gru(Self.input(6, 3, 5), h0: h0)
        let output = try #require(result.output)
        for t in 0..<6 {
            for b in 0..<3 {
                let row = output.scalars[((t * 3 + b) * 7)..<((t * 3 + b + 1) * 7)]
                #expect(row.allSatisfy { $0.isNaN } == (b == 1), "step \(t), element \(b)")
            }
        }
    }

    @Test("infinite inputs do not trap; saturated gates give finite outputs", arguments: [Float.infinity, -Float.infinity])
    func infiniteInput(value: Float) throws {
        let module = try Self.module(Self.gru)
        var input = try Self.input(4, 2, 5)
        for i in 0..<5 { input[flat: i] = value }
        let result = try module(input)
        // The untouched element stays finite; the other one may be finite or NaN (inf - inf in
        // a gate's sum), as in PyTorch, but the call returns.
        let output = try #require(result.output)
        for t in 0..<4 {
            #expect(output.scalars[((t * 2 + 1) * 7)..<((t * 2 + 2) * 7)].allSatisfy { $0.isFinite })
        }
    }
}
