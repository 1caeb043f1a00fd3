@testable import RNNRuntime
import Testing
import RNNFormat

/// Feeding a sequence in chunks through `step(_:state:)` equals one call over it.
@Suite("Streaming")
struct StreamingTests {
    /// Unidirectional sequence-module calls without lengths or leading dimensions.
    static var streamableCalls: [Fixtures.CallRef] {
        Fixtures.floatCalls.filter { ref in
            guard ["batched", "h0", "unbatched", "unbatched_h0"].contains(ref.callName),
                  let fixture = try? Fixtures.loadCase(ref.caseDirectory) else { return false }
            let module = fixture.allModules[ref.moduleIndex]
            return !module.config.bidirectional && !["GRUCell", "LSTMCell", "RNNCell"].contains(module.module)
        }
    }

    static let chunkings: [[Int]] = [[1, 1, 1, 1, 1, 1], [2, 4], [3, 1, 2]]

    @Test func streamableFixturesExist() {
        #expect(Self.streamableCalls.count >= 30)
    }

    @Test(arguments: streamableCalls)
    func chunksEqualOneCall(ref: Fixtures.CallRef) throws {
        let loaded = try Fixtures.load(ref)
        let a = loaded.arrays
        let module = try AnyModule(loaded.record)
        let whole = try module(a.input, h0: a.h0, c0: a.c0)
        let batched = a.input.rank == 3
        let timeAxis = batched && loaded.record.config.batchFirst ? 1 : 0
        let steps = a.input.shape[timeAxis]
        for chunking in Self.chunkings {
            #expect(chunking.reduce(0, +) == steps)
            var state = a.h0.map { StreamingState(h: $0, c: a.c0) } ?? module.initialState(batchSize: batched ? a.input.shape[1 - timeAxis] : nil)
            var outputs: [Tensor] = []
            var start = 0
            for length in chunking {
                outputs.append(try module.step(a.input.slice(along: timeAxis, start..<start + length), state: &state))
                start += length
            }
            let streamed = Tensor.concatenate(outputs, along: timeAxis)
            // Bitwise: the float kernels do not depend on how the sequence is split.
            #expect(streamed == whole.output, "chunking \(chunking)")
            #expect(state.h == whole.h)
            #expect(state.c == whole.c)
            // And PyTorch's numbers, within the parity tolerance.
            #expect(maxAbsDifference(streamed, try #require(a.output)) <= PyTorchParityTests.tolerance)
        }
    }

    /// A stream whose steps read more than half the L2 in their two products visits both
    /// backward every other call (`DirectionWeights.stepAlternates`), carrying the order from
    /// call to call; a separate call of one step starts forward. The stream gives the separate
    /// calls' results bit for bit, float32 and int8, GRU and LSTM.
    @Test func alternatingStreamsEqualSeparateCalls() throws {
        var generator = SplitMix64(seed: 71)
        let input = 16
        /// The smallest hidden size (a multiple of 32) whose step alternates on this machine.
        func hidden(gates: Int, bytesPerWeight: Int) -> Int {
            var h = 32
            while !Linear.alternationPays(bytes: gates * h * (input + h) * bytesPerWeight) { h += 32 }
            return h
        }
        let gru = try GRU(inputSize: input, hiddenSize: hidden(gates: 3, bytesPerWeight: 4), using: &generator).record
        let lstm = try LSTM(inputSize: input, hiddenSize: hidden(gates: 4, bytesPerWeight: 4), using: &generator).record
        let gruInt8 = try Quantizer().quantize(
            try GRU(inputSize: input, hiddenSize: hidden(gates: 3, bytesPerWeight: 1), using: &generator).record, file: "test")
        for (index, record) in [gru, lstm, gruInt8].enumerated() {
            let module = try AnyModule(record)
            #expect(module.core.weights.layers[0][0].stepAlternates, "module \(index)")
            var values = SplitMix64(seed: UInt64(80 + index))
            var state = module.initialState(batchSize: 1)
            var separate = ModuleOutput(output: nil, h: state.h, c: state.c)
            for step in 0..<5 {
                let x = try Tensor(shape: [1, 1, input], scalars: (0..<input).map { _ in Float.random(in: -1...1, using: &values) })
                let streamed = try module.step(x, state: &state)
                separate = try module(x, h0: separate.h, c0: separate.c)
                #expect(streamed == separate.output, "module \(index), step \(step)")
                #expect(state.h == separate.h && state.c == separate.c, "module \(index), step \(step)")
            }
        }
    }

    @Test func typedModulesStreamFromZeroState() throws {
        var generator = SplitMix64(seed: 7)
        let lstm = try LSTM(inputSize: 3, hiddenSize: 5, numLayers: 2, projSize: 2, using: &generator)
        let input = try Tensor(shape: [4, 3], scalars: (0..<12).map { Float($0) / 7 - 0.5 })
        let (output, hN, cN) = try lstm(input)
        var state = lstm.initialState()
        #expect(state.h.shape == [2, 2] && state.c?.shape == [2, 5])
        var outputs: [Tensor] = []
        for t in 0..<4 {
            outputs.append(try lstm.step(input.slice(along: 0, t..<t + 1), state: &state))
        }
        #expect(Tensor.concatenate(outputs, along: 0) == output)
        #expect(state.h == hN && state.c == cN)
    }

    @Test func bidirectionalModulesRefuseToStream() throws {
        var generator = SplitMix64(seed: 1)
        let gru = try GRU(inputSize: 2, hiddenSize: 3, bidirectional: true, using: &generator)
        var state = gru.initialState()
        #expect {
            _ = try gru.step(try Tensor(zeros: [1, 2]), state: &state)
        } throws: { error in
            guard case .unsupported(_, let message) = error as? RNNRuntimeError else { return false }
            return message.contains("unidirectional")
        }
    }

    @Test func wrongStateShapeNamesTheState() throws {
        var generator = SplitMix64(seed: 1)
        let gru = try GRU(inputSize: 2, hiddenSize: 3, using: &generator)
        var state = gru.initialState(batchSize: 4)
        #expect {
            _ = try gru.step(try Tensor(zeros: [1, 2, 2]), state: &state)
        } throws: { error in
            (error as? RNNRuntimeError) == .shapeMismatch(module: "GRU", argument: "state.h", expected: "(1, 2, 3)", actual: [1, 4, 3])
        }
    }

    /// A state keeps its workspace between steps; copies must still be independent values,
    /// also when both continue at the same time.
    @Test func copiesOfAStateContinueIndependently() async throws {
        var generator = SplitMix64(seed: 11)
        let gru = try GRU(inputSize: 3, hiddenSize: 6, numLayers: 2, using: &generator)
        func chunk(_ seed: Float) throws -> Tensor {
            try Tensor(shape: [1, 3], scalars: [seed, -seed / 2, seed / 3])
        }
        var state = gru.initialState()
        _ = try gru.step(chunk(0.5), state: &state)
        let fork = state
        async let left: (Tensor, StreamingState) = {
            var s = fork
            var out = try Tensor(zeros: [1])
            for t in 0..<50 { out = try gru.step(chunk(Float(t) / 50), state: &s) }
            return (out, s)
        }()
        async let right: (Tensor, StreamingState) = {
            var s = fork
            var out = try Tensor(zeros: [1])
            for t in 0..<50 { out = try gru.step(chunk(-Float(t) / 50), state: &s) }
            return (out, s)
        }()
        let (l, r) = try await (left, right)
        // The same continuations as whole calls from the forked h.
        let leftInput = Tensor.concatenate(try (0..<50).map { try chunk(Float($0) / 50) }, along: 0)
        let rightInput = Tensor.concatenate(try (0..<50).map { try chunk(-Float($0) / 50) }, along: 0)
        let wholeLeft = try gru(leftInput, fork.h), wholeRight = try gru(rightInput, fork.h)
        #expect(l.1.h == wholeLeft.hN && r.1.h == wholeRight.hN)
        #expect(l.0 == wholeLeft.output.slice(along: 0, 49..<50))
        #expect(l.1.h != r.1.h)
        #expect(state == fork, "stepping the copies left the original alone")
    }

    /// A step writes the new state over the old one in place and, for one step of one layer,
    /// returns h_n's array as the output: outputs and states kept from earlier steps must not
    /// change, and a step that fails must leave the state as it was.
    @Test func keptOutputsAndStatesStayPut() throws {
        var generator = SplitMix64(seed: 13)
        let lstm = try LSTM(inputSize: 3, hiddenSize: 4, using: &generator)
        let input = try Tensor(shape: [6, 2, 3], scalars: (0..<36).map { Float($0 % 11) / 11 - 0.45 })
        var state = lstm.initialState(batchSize: 2)
        var outputs: [Tensor] = [], states: [StreamingState] = []
        for t in 0..<6 {
            outputs.append(try lstm.step(input.slice(along: 0, t..<t + 1), state: &state))
            states.append(state)
        }
        #expect(Tensor.concatenate(outputs, along: 0) == (try lstm(input)).output)
        for t in 0..<6 {
            let prefix = try lstm(input.slice(along: 0, 0..<t + 1))
            #expect(states[t].h == prefix.hN && states[t].c == prefix.cN, "state after step \(t)")
            #expect(outputs[t].scalars == states[t].h.scalars, "one step of one layer: the output is h_n")
        }
        let before = state
        #expect(throws: RNNRuntimeError.self) { try lstm.step(try Tensor(zeros: [1, 3, 3]), state: &state) }
        #expect(state == before)
    }

    /// One state carried through modules of different sizes (same h shape) refits its workspace.
    @Test func aStateMovesBetweenModules() throws {
        var generator = SplitMix64(seed: 12)
        let small = try GRU(inputSize: 2, hiddenSize: 4, using: &generator)
        let large = try GRU(inputSize: 40, hiddenSize: 4, using: &generator)
        var state = small.initialState()
        _ = try small.step(try Tensor(shape: [3, 2], scalars: (0..<6).map { Float($0) / 6 }), state: &state)
        let before = state.h
        let x = try Tensor(shape: [5, 40], scalars: (0..<200).map { Float($0 % 7) / 7 - 0.4 })
        let streamed = try large.step(x, state: &state)
        let whole = try large(x, before)
        #expect(streamed == whole.output && state.h == whole.hN)
        let y = try Tensor(shape: [1, 2], scalars: [0.3, -0.2])
        let back = try small.step(y, state: &state)
        #expect(back == (try small(y, whole.hN)).output)
    }
}
