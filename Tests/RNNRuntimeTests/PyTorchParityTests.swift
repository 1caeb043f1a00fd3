import Foundation
import RNNRuntime
import Testing
import RNNFormat

/// Every float fixture call (every kind and option: bidirectional, layers, projection,
/// batch_first, no bias, float16/float64 weights, h0/c0, packed unsorted lengths, unbatched,
/// leading vmap dimensions) against PyTorch's own outputs.
@Suite("PyTorch parity")
struct PyTorchParityTests {
    /// Max abs difference allowed against PyTorch (float32 throughout; measured below 1e-6).
    static let tolerance: Float = 1e-5

    @Test func fixturesArePresent() throws {
        let index = try Fixtures.index()
        #expect(index.float.count >= 18)
        #expect(Fixtures.floatCalls.count >= 100)
    }

    @Test(arguments: Fixtures.floatCalls)
    func matchesPyTorch(ref: Fixtures.CallRef) throws {
        let loaded = try Fixtures.load(ref)
        let a = loaded.arrays
        let module = try AnyModule(loaded.record)
        let result = try module(a.input, h0: a.h0, c0: a.c0, lengths: a.lengths)

        var worst: Float = 0
        if let expected = a.output {
            let output = try #require(result.output)
            #expect(output.shape == expected.shape)
            worst = max(worst, maxAbsDifference(output, expected))
        } else {
            #expect(result.output == nil)
        }
        #expect(result.h.shape == a.hN.shape)
        worst = max(worst, maxAbsDifference(result.h, a.hN))
        if let expected = a.cN {
            let c = try #require(result.c)
            #expect(c.shape == expected.shape)
            worst = max(worst, maxAbsDifference(c, expected))
        } else {
            #expect(result.c == nil)
        }
        #expect(worst <= Self.tolerance, "max abs diff \(worst)")
        print("parity \(ref.testDescription) max_abs_diff=\(worst)")
    }

    /// The typed module types give the same numbers as `AnyModule` on every fixture call.
    @Test(arguments: Fixtures.floatCalls)
    func typedAPIMatchesPyTorch(ref: Fixtures.CallRef) throws {
        let loaded = try Fixtures.load(ref)
        let a = loaded.arrays
        let record = loaded.record
        var output: Tensor?
        var h: Tensor
        var c: Tensor?
        switch record.config.kind {
        case .gru:
            (output, h) = try GRU(record)(a.input, a.h0, lengths: a.lengths)
        case .rnn:
            (output, h) = try RNN(record)(a.input, a.h0, lengths: a.lengths)
        case .lstm:
            let state = try a.h0.map { h0 in (h0: h0, c0: try #require(a.c0)) }
            (output, h, c) = try LSTM(record)(a.input, state, lengths: a.lengths)
        case .gruCell:
            h = try GRUCell(record)(a.input, a.h0)
        case .rnnCell:
            h = try RNNCell(record)(a.input, a.h0)
        case .lstmCell:
            let state = try a.h0.map { h0 in (h: h0, c: try #require(a.c0)) }
            (h, c) = try LSTMCell(record)(a.input, state)
        }
        if let expected = a.output {
            let output = try #require(output)
            #expect(maxAbsDifference(output, expected) <= Self.tolerance)
        }
        #expect(maxAbsDifference(h, a.hN) <= Self.tolerance)
        if let expected = a.cN {
            #expect(maxAbsDifference(try #require(c), expected) <= Self.tolerance)
        }
    }
}
