import RNNRuntime
import RNNFormat
import Foundation

/// Times a module on seeded random input: what `rnnconvert bench` runs and reports.
///
/// A run is one call over a (T, B, I) sequence, or, when streaming, T calls of `step` with one
/// time step each, carrying the state. After warm-up, runs repeat until both a minimum count
/// and a minimum duration are reached; times are reported per time step.
public struct Benchmark: Sendable {
    /// What to run.
    public struct Configuration: Sendable, Hashable {
        /// Time steps per run (T).
        public var sequenceLength: Int
        /// Batch size (B).
        public var batchSize: Int
        /// Threads the runtime may use (see `Parallelism`).
        public var threads: Int
        /// One step per call through the streaming API instead of one call per sequence.
        public var streaming: Bool
        /// Runs before timing starts.
        public var warmupRuns: Int
        /// Timed runs, at least.
        public var minimumRuns: Int
        /// Timed seconds, at least (runs continue until both minimums are met).
        public var minimumSeconds: Double

        public init(
            sequenceLength: Int = 100, batchSize: Int = 1, threads: Int = 1, streaming: Bool = false,
            warmupRuns: Int = 3, minimumRuns: Int = 15, minimumSeconds: Double = 1
        ) {
            self.sequenceLength = sequenceLength
            self.batchSize = batchSize
            self.threads = threads
            self.streaming = streaming
            self.warmupRuns = warmupRuns
            self.minimumRuns = minimumRuns
            self.minimumSeconds = minimumSeconds
        }
    }

    /// Per-step timings and the throughput they imply.
    public struct Result: Sendable, Hashable, Codable {
        public var module: String
        public var sequenceLength: Int
        public var batchSize: Int
        public var threads: Int
        public var streaming: Bool
        /// Instruction-set level the kernels ran at.
        public var isa: String
        public var runs: Int
        /// Microseconds per time step: median, minimum and maximum over the runs.
        public var usPerStep: Double
        public var usPerStepMin: Double
        public var usPerStepMax: Double
        /// Multiply-adds count two: every product of every layer and direction, per time step.
        public var flopsPerStep: Double
        public var gflops: Double
        /// Bytes of all weight matrices as the kernels read them (4 per float, 1 per int8).
        public var weightBytes: Int
        /// `weightBytes` per median step time: the rate at which a step would stream every
        /// weight once (GB/s).
        public var weightBandwidthGBs: Double

        enum CodingKeys: String, CodingKey {
            case module, isa, runs, threads, streaming
            case sequenceLength = "seq_len"
            case batchSize = "batch"
            case usPerStep = "us_per_step"
            case usPerStepMin = "us_per_step_min"
            case usPerStepMax = "us_per_step_max"
            case flopsPerStep = "flops_per_step"
            case gflops = "gflops"
            case weightBytes = "weight_bytes"
            case weightBandwidthGBs = "weight_bandwidth_gbs"
        }
    }

    public let configuration: Configuration

    public init(_ configuration: Configuration) {
        precondition(configuration.sequenceLength >= 1 && configuration.batchSize >= 1 && configuration.threads >= 1)
        self.configuration = configuration
    }

    /// Times `module`.
    ///
    /// - Throws: `RNNRuntimeError.unsupported` for streaming a bidirectional module, or cells
    ///   with more than one step per run (a cell call is one step; T calls are timed).
    public func run(_ module: AnyModule) throws -> Result {
        let config = module.config
        let c = configuration
        let steps = c.sequenceLength, batch = c.batchSize
        var generator = SplitMix64(seed: 0x5EED)
        let cell = config.kind.isCell
        // Cells take one step per call: (B, I). Sequence modules take (T, B, I) or (B, T, I).
        let stepShape = cell ? [batch, config.inputSize]
            : (config.batchFirst ? [batch, 1, config.inputSize] : [1, batch, config.inputSize])
        let sequenceShape = config.batchFirst ? [batch, steps, config.inputSize] : [steps, batch, config.inputSize]
        let streamingRun = c.streaming || cell
        if streamingRun && !cell && config.bidirectional {
            throw RNNRuntimeError.unsupported(module: config.kind.rawValue,
                                              message: "streaming needs a unidirectional module")
        }
        func random(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, trusted: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &generator) })
        }
        let chunks = streamingRun ? (0..<steps).map { _ in random(stepShape) } : []
        let sequence = streamingRun ? Tensor.zeros([1]) : random(sequenceShape)

        let oneRun: () throws -> Void = {
            if streamingRun {
                var state = module.initialState(batchSize: batch)
                for chunk in chunks { _ = try module.step(chunk, state: &state) }
            } else {
                _ = try module(sequence)
            }
        }
        var perStep: [Double] = []
        try Parallelism.$maximumThreads.withValue(c.threads) {
            for _ in 0..<c.warmupRuns { try oneRun() }
            let clock = ContinuousClock()
            let start = clock.now
            while perStep.count < c.minimumRuns || (clock.now - start) < .seconds(c.minimumSeconds) {
                let t0 = clock.now
                try oneRun()
                let elapsed = clock.now - t0
                perStep.append(Self.microseconds(elapsed) / Double(steps))
            }
        }
        perStep.sort()
        let median = perStep.count % 2 == 1 ? perStep[perStep.count / 2]
            : (perStep[perStep.count / 2 - 1] + perStep[perStep.count / 2]) / 2
        let cost = Self.cost(of: module.record, batch: batch)
        return Result(
            module: Self.describe(config), sequenceLength: steps, batchSize: batch, threads: c.threads,
            streaming: streamingRun, isa: String(describing: KernelISA.best), runs: perStep.count,
            usPerStep: median, usPerStepMin: perStep.first!, usPerStepMax: perStep.last!,
            flopsPerStep: cost.flops, gflops: cost.flops / median / 1e3,
            weightBytes: cost.bytes, weightBandwidthGBs: Double(cost.bytes) / median / 1e3)
    }

    static func microseconds(_ d: Duration) -> Double {
        let (seconds, attoseconds) = d.components
        return Double(seconds) * 1e6 + Double(attoseconds) / 1e12
    }

    /// Flops per time step (two per multiply-add, over every weight matrix and batch row) and
    /// the bytes of the weight matrices at their stored width.
    static func cost(of record: ModuleRecord, batch: Int) -> (flops: Double, bytes: Int) {
        var flops = 0.0, bytes = 0
        for spec in record.config.expectedParameters where spec.shape.count == 2 {
            let elements = spec.shape[0] * spec.shape[1]
            flops += 2 * Double(elements) * Double(batch)
            bytes += elements * (record.parameters[spec.name]?.storedType == .int8 ? 1 : 4)
        }
        return (flops, bytes)
    }

    static func describe(_ c: ModuleConfig) -> String {
        var text = "\(c.kind.rawValue) \(c.inputSize)->\(c.hiddenSize)"
        if c.numLayers > 1 { text += " x\(c.numLayers)" }
        if c.bidirectional { text += " bidirectional" }
        if c.projSize > 0 { text += " proj \(c.projSize)" }
        return text
    }

    /// How fast a model file loads and how much memory loading takes.
    public struct LoadResult: Sendable, Hashable, Codable {
        public var fileBytes: Int
        /// Bytes of every parameter at its stored width.
        public var parameterBytes: Int
        public var seconds: Double
        /// `fileBytes / seconds`, GB/s.
        public var gigabytesPerSecond: Double
        /// Resident set size before loading and the process's peak after it (bytes).
        public var residentBefore: Int
        public var peakResident: Int
        /// `(peakResident - residentBefore) / parameterBytes`: the memory loading took per
        /// byte of parameters.
        public var peakOverParameters: Double

        enum CodingKeys: String, CodingKey {
            case fileBytes = "file_bytes", parameterBytes = "parameter_bytes", seconds
            case gigabytesPerSecond = "gb_per_s", residentBefore = "rss_before", peakResident = "peak_rss"
            case peakOverParameters = "peak_over_parameters"
        }
    }

    /// Reads the file at `path` once with `ModelFile.read` and measures time and peak memory.
    /// Call it first in a fresh process: the peak is the process's, not the call's.
    ///
    /// - Throws: whatever `ModelFile.read` throws.
    public static func measureLoading(path: String) throws -> LoadResult {
        let before = residentBytes()
        let clock = ContinuousClock()
        var file: ModelFile?
        let elapsed = try clock.measure { file = try ModelFile.read(path: path) }
        let parameters = file?.modules.reduce(0) { $0 + $1.storedBytes } ?? 0
        let fileBytes = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        let seconds = microseconds(elapsed) / 1e6
        let peak = peakResidentBytes()
        return LoadResult(fileBytes: fileBytes, parameterBytes: parameters, seconds: seconds,
                          gigabytesPerSecond: Double(fileBytes) / seconds / 1e9, residentBefore: before,
                          peakResident: peak, peakOverParameters: Double(peak - before) / Double(max(parameters, 1)))
    }

    /// Current resident set size (Linux /proc/self/statm; 0 where unavailable).
    static func residentBytes() -> Int {
        #if os(Linux)
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        #else
        return 0
        #endif
    }

    /// Peak resident set size of the process so far (getrusage).
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        #if os(Linux)
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        return usage.ru_maxrss * 1024
        #else
        guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
        return usage.ru_maxrss
        #endif
    }
}
