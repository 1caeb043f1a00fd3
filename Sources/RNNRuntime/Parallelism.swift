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
}
