import CRNNKernels

/// How many threads one module call may use.
///
/// Calls run on the calling thread unless this is raised. With 2 or more, the two directions of
/// a bidirectional layer run in parallel when each has enough work to pay for the hand-off, and
/// a large unidirectional layer shares each step between two threads (`SharedPhases`); small
/// layers stay on one thread, so raising it never makes them slower. Results do not depend on
/// it. The value is scoped to the current task and the synchronous code it runs:
///
///     let result = try Parallelism.$maximumThreads.withValue(2) { try gru(input) }
public enum Parallelism {
    @TaskLocal public static var maximumThreads: Int = 1

    /// Multiply-adds one direction of a layer must have before it gets a thread of its own;
    /// below this, waking a second thread costs more than it saves (measured: BENCHMARKS.md).
    static let minimumWorkPerThread = 2_000_000

    /// Recurrent multiply-adds per step (batch x gate rows x hidden) a unidirectional layer needs
    /// before its steps are split across two threads, for float32 and int8 weights: the threads
    /// meet three times a step, 0.1-0.2 us each when the second core is ours alone and up to
    /// ~0.7 us when the host keeps it busy, so only steps of ~4 us or more are split
    /// (measured: BENCHMARKS.md).
    static let minimumFloatSplitWork = 180_000
    static let minimumInt8SplitWork = 600_000

    /// Runs `body(i)` for `i` in `0..<count` on the calling thread and the runtime's helper
    /// thread (`crnn_parallel_run`), returning when all have finished.
    ///
    /// Sound for bodies that write disjoint memory (each index its own lane of scratch, its own
    /// columns of the output, its own rows of the state) and only read shared inputs: the call
    /// returns only after every index ran, and the helper claims indices atomically. Chosen over
    /// `DispatchQueue.concurrentPerform`, whose second thread on this kind of machine (a
    /// Firecracker VM) started 20-50 us late on every call, most of a direction's time at T=128.
    static func run(_ count: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var job = body
            withUnsafeMutablePointer(to: &job) { pointer in
                crnn_parallel_run({ context, index in
                    guard let context else { return }
                    context.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
                }, pointer, count)
            }
        }
    }
}

/// Work the calling thread and the runtime's helper thread share (`crnn_parallel_pair`,
/// `crnn_phases`): a sequence of phases the two go through together. Each phase has two halves
/// that may run at the same time and needs the previous phase finished. A thread runs its own
/// half and takes over the other's when it stays unclaimed for a few microseconds (thread 0
/// sooner while thread 1 has not joined, at once when the helper is not coming), so a thread
/// that falls behind (descheduled, or started late) finds its work done and catches up instead
/// of stalling the other, and the caller alone completes the work when the helper never comes.
///
/// A class over C memory so both threads share one; `@unchecked Sendable` because, while a run
/// lasts, every access goes through `crnn_phase_*`'s atomics.
final class SharedPhases: @unchecked Sendable {
    private let phases: UnsafeMutablePointer<crnn_phases>

    init() {
        // Its own cache line, so the waiting thread's reads do not share one with other data.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
        phases = raw.bindMemory(to: crnn_phases.self, capacity: 1)
    }

    deinit { UnsafeMutableRawPointer(phases).deallocate() }

    /// Runs `body(0)` on the calling thread and, if the helper thread is free and starts before
    /// the caller is done, `body(1)` on the helper at the same time; returns once both have
    /// finished. The bodies share their work through `share`, so that `body(0)` alone completes
    /// it. Phases are numbered from 1 in each run. `wakeHelper`: wake a sleeping helper, worth
    /// its 20-50 us start only for long jobs (one still looking for work after its last job
    /// joins within a microsecond or two either way).
    func run(wakeHelper: Bool, _ body: (Int) -> Void) {
        phases.pointee = crnn_phases()
        let phases = self.phases
        withoutActuallyEscaping(body) { body in
            var job: (Int) -> Void = { thread in
                if thread == 1 { crnn_phase_join(phases) }
                body(thread)
            }
            withUnsafeMutablePointer(to: &job) { pointer in
                _ = crnn_parallel_pair({ context, index in
                    guard let context else { return }
                    context.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
                }, pointer, wakeHelper ? 1 : 0, phases)
            }
        }
    }

    /// Runs `body(half)` for `thread`'s own half of `phase` (unless the other thread took it
    /// over) and for the other half if it takes that over, then returns once both are finished;
    /// or `body(nil)` once for the whole phase when thread 0 has no partner joined or on its way.
    @inline(__always) func share(_ phase: UInt64, thread: Int, _ body: (Int?) -> Void) {
        switch crnn_phase_claim(phases, phase, Int32(thread)) {
        case 2:
            body(nil)
            crnn_phase_done(phases, phase, 2)
            return
        case 1:
            body(thread)
            crnn_phase_done(phases, phase, 1)
        default:
            break
        }
        while case let half = crnn_phase_wait(phases, phase, Int32(thread)), half >= 0 {
            body(Int(half))
            crnn_phase_done(phases, phase, 1)
        }
    }
}
