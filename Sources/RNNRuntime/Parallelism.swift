import CRNNKernels

/// How many threads one module call may use.
///
/// Calls run on the calling thread unless this is raised. With 2 or more, the two directions of
/// a bidirectional layer run in parallel when each has enough work to pay for the hand-off
/// (small layers stay on one thread, so raising it never makes them slower). The value is
/// scoped to the current task and the synchronous code it runs:
///
///     let result = try Parallelism.$maximumThreads.withValue(2) { try gru(input) }
public enum Parallelism {
    @TaskLocal public static var maximumThreads: Int = 1

    /// Multiply-adds one direction of a layer must have before it gets a thread of its own;
    /// below this, waking a second thread costs more than it saves (measured: BENCHMARKS.md).
    static let minimumWorkPerThread = 2_000_000

    /// Recurrent multiply-adds per step (batch x gate rows x hidden) a unidirectional layer needs
    /// before its steps are split across two threads, for float32 and int8 weights.
    static let minimumFloatSplitWork = 150_000
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

    /// Runs `body(0)` on the calling thread and `body(1)` on the helper thread at the same time,
    /// for work in which each waits for the other (`SpinBarrier`), and returns true when both
    /// have finished. Returns false, having run nothing, when the helper has not started within
    /// `waitMicroseconds` (asleep, or serving another caller): the caller then works alone.
    static func pair(waitMicroseconds: UInt32, _ body: (Int) -> Void) -> Bool {
        withoutActuallyEscaping(body) { body in
            var job = body
            return withUnsafeMutablePointer(to: &job) { pointer in
                crnn_parallel_pair({ context, index in
                    guard let context else { return }
                    context.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
                }, pointer, waitMicroseconds) == 1
            }
        }
    }
}

/// Where the two threads of `Parallelism.pair` wait for each other: the n-th `wait()` of one
/// returns once the other has made its n-th call. A class over C memory so both threads share
/// one; `@unchecked Sendable` because every access goes through `crnn_barrier_wait`'s atomics.
final class SpinBarrier: @unchecked Sendable {
    private let barrier: UnsafeMutablePointer<crnn_barrier>

    init() {
        // Its own cache line, so the spinning thread's reads do not share one with other data.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
        barrier = raw.bindMemory(to: crnn_barrier.self, capacity: 1)
    }

    deinit { UnsafeMutableRawPointer(barrier).deallocate() }

    @inline(__always) func wait() { crnn_barrier_wait(barrier) }
}
