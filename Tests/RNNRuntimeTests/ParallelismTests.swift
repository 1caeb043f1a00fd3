import Foundation
@testable import RNNRuntime
import Testing
import _RNNKitTestSupport
import RNNFormat

/// Two threads run the directions of a bidirectional layer at once; results must not change.
@Suite struct ParallelismTests {
    static func input(_ shape: [Int], seed: UInt64) throws -> Tensor {
        var generator = SplitMix64(seed: seed)
        return try Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &generator) })
    }

    @Test func bidirectionalGRUIsIdenticalOnTwoThreads() throws {
        var generator = SplitMix64(seed: 11)
        let gru = try GRU(inputSize: 24, hiddenSize: 48, numLayers: 2, bidirectional: true, using: &generator)
        let x = try Self.input([60, 3, 24], seed: 12)
        let h0 = try Self.input([4, 3, 48], seed: 13)
        let lengths = [60, 41, 17]
        // Large enough that the second thread is used, small layers stay on one.
        #expect(Parallelism.$maximumThreads.withValue(2) { gru.core.weights.directionLanes(tokens: 60 * 3, batch: 3) } == 2)
        #expect(Parallelism.$maximumThreads.withValue(2) { gru.core.weights.directionLanes(tokens: 3, batch: 3) } == 1)
        #expect(gru.core.weights.directionLanes(tokens: 60 * 3, batch: 3) == 1)
        let one = try gru(x, h0, lengths: lengths)
        let two = try Parallelism.$maximumThreads.withValue(2) { try gru(x, h0, lengths: lengths) }
        #expect(one.output == two.output)
        #expect(one.hN == two.hN)
    }

    @Test func bidirectionalProjectedLSTMIsIdenticalOnTwoThreads() throws {
        var generator = SplitMix64(seed: 21)
        let lstm = try LSTM(inputSize: 16, hiddenSize: 40, numLayers: 2, bidirectional: true, projSize: 24, using: &generator)
        let x = try Self.input([2, 50, 4, 16], seed: 22)
        #expect(Parallelism.$maximumThreads.withValue(2) { lstm.core.weights.directionLanes(tokens: 50 * 4, batch: 4) } == 2)
        let one = try lstm(x)
        let two = try Parallelism.$maximumThreads.withValue(2) { try lstm(x) }
        #expect(one.output == two.output)
        #expect(one.hN == two.hN)
        #expect(one.cN == two.cN)
    }

    /// The helper thread's hand-off: every index runs exactly once, also when many callers
    /// compete for the one helper (the losers run their indices themselves) and when calls
    /// follow each other while the helper is still looking for work.
    @Test func everyIndexRunsOnceUnderContention() async {
        final class Counts: @unchecked Sendable {
            // Each index is written by exactly one thread, and read after `run` returns.
            var values: [Int]
            init(_ n: Int) { values = Array(repeating: 0, count: n) }
        }
        await withTaskGroup(of: Bool.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var ok = true
                    for round in 0..<300 {
                        let n = [0, 1, 2, 3, 7][(task + round) % 5]
                        let counts = Counts(n)
                        counts.values.withUnsafeMutableBufferPointer { buffer in
                            let base = buffer.baseAddress
                            Parallelism.run(n) { index in base?[index] += 1 }
                        }
                        ok = ok && counts.values.allSatisfy { $0 == 1 }
                    }
                    return ok
                }
            }
            for await ok in group { #expect(ok) }
        }
    }

    /// A pair shares phases: every half of every phase runs exactly once, after every half of
    /// the phase before (each half reads the other half of the previous phase), whichever thread
    /// runs it: when both threads run, when one of them is late (it finds its halves done), and
    /// when the helper never joins (another caller has it, or it starts after the caller is
    /// done). 8 tasks compete for the one helper.
    @Test func pairsShareEveryPhase() async {
        /// What the halves record. The two halves of a phase run at the same time, so each
        /// writes only its own words, and the words a half reads of the other are behind a lock.
        final class Record: @unchecked Sendable {
            let phases: Int
            /// runs[2 * phase + half]: how often that half ran.
            let runs: UnsafeMutablePointer<Int>
            /// The last phase each half finished.
            let last0 = LockedBox(0), last1 = LockedBox(0)
            /// ordered[half]: 0 while every run of that half saw the other half's previous phase.
            let ordered: UnsafeMutablePointer<Int>
            /// Whether the helper ran index 1.
            let helperRan = LockedBox(false)
            init(phases: Int) {
                self.phases = phases
                runs = .allocate(capacity: 2 * (phases + 1))
                runs.initialize(repeating: 0, count: 2 * (phases + 1))
                ordered = .allocate(capacity: 2)
                ordered.initialize(repeating: 0, count: 2)
            }
            deinit {
                runs.deallocate()
                ordered.deallocate()
            }
            func lastPhase(of half: Int) -> Int { (half == 0 ? last0 : last1).withLock { $0 } }
            func finish(_ phase: Int, half: Int) { (half == 0 ? last0 : last1).withLock { $0 = phase } }
            var runCounts: [Int] { Array(UnsafeBufferPointer(start: runs, count: 2 * (phases + 1))) }
        }
        let outcomes = await withTaskGroup(of: (helped: Bool, ok: Bool).self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var helped = false, ok = true
                    for round in 0..<50 {
                        let count = 200, record = Record(phases: count), phases = SharedPhases()
                        phases.run(wakeHelper: true) { thread in
                            if thread == 1 { record.helperRan.withLock { $0 = true } }
                            // Every third round one thread is late: the other does its halves.
                            if round % 3 == 0 { usleep(thread == round % 2 ? 300 : 0) }
                            for phase in 1...count {
                                phases.share(UInt64(phase), thread: thread) { claimed in
                                    // nil: the whole phase, both halves in turn.
                                    for half in claimed.map({ [$0] }) ?? [0, 1] {
                                        record.runs[2 * phase + half] += 1
                                        if record.lastPhase(of: 1 - half) < phase - 1 { record.ordered[half] = 1 }
                                        record.finish(phase, half: half)
                                    }
                                }
                            }
                        }
                        helped = helped || record.helperRan.withLock { $0 }
                        ok = ok && record.runCounts == [0, 0] + Array(repeating: 1, count: 2 * count)
                            && record.ordered[0] == 0 && record.ordered[1] == 0
                    }
                    return (helped, ok)
                }
            }
            var all: [(helped: Bool, ok: Bool)] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        let allOK = outcomes.allSatisfy { $0.ok }, anyHelped = outcomes.contains { $0.helped }
        #expect(allOK)
        #expect(anyHelped, "the helper never joined a pair")
    }

    /// Unidirectional layers large enough to split their steps across two threads give the
    /// one-thread results bit for bit: GRU, LSTM and RNN, float and int8, with lengths, h0/c0,
    /// batch-first input and a row count that leaves thread 1 a partial block.
    @Test func splitLayersAreIdenticalOnTwoThreads() throws {
        var generator = SplitMix64(seed: 31)
        let gru = try GRU(inputSize: 32, hiddenSize: 200, numLayers: 2, using: &generator)
        let lstm = try LSTM(inputSize: 24, hiddenSize: 160, batchFirst: true, using: &generator)
        let rnn = try RNN(inputSize: 16, hiddenSize: 512, using: &generator)
        let gruInt8 = try GRU(try Quantizer().quantize(try GRU(inputSize: 48, hiddenSize: 256, using: &generator).record, file: "test"))
        let lstmInt8 = try LSTM(try Quantizer().quantize(try LSTM(inputSize: 40, hiddenSize: 300, using: &generator).record, file: "test"))
        let modules: [(AnyModule, batch: Int, shape: [Int])] = [
            (try AnyModule(gru.record), 3, [30, 3, 32]), (try AnyModule(lstm.record), 2, [2, 25, 24]),
            (try AnyModule(rnn.record), 1, [20, 1, 16]), (try AnyModule(gruInt8.record), 4, [12, 4, 48]),
            (try AnyModule(lstmInt8.record), 2, [10, 2, 40]),
        ]
        for (index, (module, batch, shape)) in modules.enumerated() {
            let weights = module.core.weights, config = module.record.config
            let steps = shape[config.batchFirst ? 1 : 0]
            #expect(weights.rowSplit(layer: 0, batch: batch) != nil, "module \(index)")
            #expect(Parallelism.$maximumThreads.withValue(2) { weights.directionLanes(tokens: steps * batch, batch: batch) } == 2)
            #expect(weights.directionLanes(tokens: steps * batch, batch: batch) == 1)
            let x = try Self.input(shape, seed: UInt64(40 + index))
            let states = [config.numLayers, batch, config.hiddenSize]
            let h0 = try Self.input(states, seed: UInt64(50 + index))
            let c0 = config.kind == .lstm ? try Self.input(states, seed: UInt64(60 + index)) : nil
            let lengths = (0..<batch).map { max(1, shape[config.batchFirst ? 1 : 0] - 3 * $0) }
            let one = try module(x, h0: h0, c0: c0, lengths: lengths)
            for _ in 0..<3 {
                let two = try Parallelism.$maximumThreads.withValue(2) { try module(x, h0: h0, c0: c0, lengths: lengths) }
                #expect(one == two, "module \(index)")
            }
        }
    }

    /// Cells large enough to split give their one-thread results on two threads too.
    @Test func splitCellsAreIdenticalOnTwoThreads() throws {
        var generator = SplitMix64(seed: 51)
        let gru = try GRUCell(inputSize: 24, hiddenSize: 300, using: &generator)
        let lstm = try LSTMCell(inputSize: 24, hiddenSize: 256, using: &generator)
        for module in [try AnyModule(gru.record), try AnyModule(lstm.record)] {
            #expect(module.core.weights.rowSplit(layer: 0, batch: 3) != nil)
            let x = try Self.input([3, 24], seed: 52)
            let one = try module(x)
            let two = try Parallelism.$maximumThreads.withValue(2) { try module(x) }
            #expect(one == two)
        }
    }

    /// Streaming a split layer step by step on two threads gives the one-thread stream.
    @Test func splitStreamingIsIdenticalOnTwoThreads() throws {
        var generator = SplitMix64(seed: 41)
        let gru = try GRU(inputSize: 8, hiddenSize: 384, using: &generator)
        var one = gru.initialState(), two = gru.initialState()
        for step in 0..<20 {
            let x = try Self.input([1, 8], seed: UInt64(100 + step))
            let a = try gru.step(x, state: &one)
            let b = try Parallelism.$maximumThreads.withValue(2) { try gru.step(x, state: &two) }
            #expect(a == b)
        }
        #expect(one == two)
    }
}
