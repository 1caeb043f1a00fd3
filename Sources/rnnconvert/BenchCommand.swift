import ArgumentParser
import Foundation
import RNNFormat
import RNNFormatWriter
import RNNKitTools
import RNNRuntime

/// `rnnconvert bench`: times one module of a model file on random input.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time a module: microseconds per time step, GFLOP/s and weight bandwidth.",
        discussion: """
            Runs the module on seeded random input of shape (T, B, I) (B, T, I when batch_first): \
            a few warm-up runs, then timed runs until both --min-runs and --min-time are reached. \
            Reports microseconds per time step (median, min, max over runs), GFLOP/s (two per \
            multiply-add over every weight matrix) and the weight bytes per step over the median \
            time. With --streaming each run is T calls of one step through the streaming API, \
            carrying the state. Cells always run one step per call.
            """
    )

    @Argument(help: "The model file (any file `run` accepts).")
    var model: String

    @Option(name: .customLong("seq-len"), help: "Time steps per run (T).")
    var seqLen: Int = 100

    @Option(help: "Batch size (B).")
    var batch: Int = 1

    @Option(help: "Threads the runtime may use (the directions of a bidirectional layer run in parallel; large unidirectional layers share each step).")
    var threads: Int = 1

    @Flag(help: "One time step per call through the streaming API.")
    var streaming = false

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Option(help: ArgumentHelp("The module's dotted state_dict prefix; may be omitted when the file holds one module.", valueName: "prefix"))
    var module: String?

    @Flag(help: "Only load the file: time, GB/s and peak memory over the parameter bytes.")
    var load = false

    @Option(name: .customLong("min-runs"), help: "Timed runs, at least.")
    var minRuns: Int = 15

    @Option(name: .customLong("min-time"), help: "Timed seconds, at least.")
    var minTime: Double = 1

    func validate() throws {
        guard seqLen >= 1 else { throw ValidationError("--seq-len must be at least 1, found \(seqLen)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, found \(batch)") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, found \(threads)") }
        guard minRuns >= 1 else { throw ValidationError("--min-runs must be at least 1, found \(minRuns)") }
        guard minTime >= 0, minTime.isFinite else { throw ValidationError("--min-time must be a finite number >= 0, found \(minTime)") }
    }

    func run() throws {
        try ErrorReporting.run(execute)
    }

    private func execute() throws {
        if load {
            let result = try Benchmark.measureLoading(path: model)
            if json {
                printLine(try Self.json(result))
            } else {
                let mb = { (bytes: Int) in String(format: "%.1f MB", Double(bytes) / 1e6) }
                printLine("loaded \(mb(result.fileBytes)) in \(String(format: "%.3f", result.seconds)) s (\(String(format: "%.2f", result.gigabytesPerSecond)) GB/s)")
                printLine("parameters \(mb(result.parameterBytes)); resident \(mb(result.residentBefore)) before, peak \(mb(result.peakResident)) (growth \(String(format: "%.2f", result.peakOverParameters))x the parameters)")
            }
            return
        }
        let file = try ModelFile.read(path: model)
        let record = try file.module(at: module, file: model)
        let runner = try AnyModule(record)
        let benchmark = Benchmark(Benchmark.Configuration(
            sequenceLength: seqLen, batchSize: batch, threads: threads, streaming: streaming,
            minimumRuns: minRuns, minimumSeconds: minTime))
        let result = try benchmark.run(runner)
        if json {
            printLine(try Self.json(result))
            return
        }
        let mode = result.streaming ? "one step per call" : "whole sequence"
        printLine("\(result.module): T=\(result.sequenceLength) B=\(result.batchSize), \(result.threads) thread(s), \(mode), kernels \(result.isa)")
        printLine(String(format: "us/step  median %.3f  min %.3f  max %.3f  (%d runs)",
                     result.usPerStep, result.usPerStepMin, result.usPerStepMax, result.runs))
        printLine(String(format: "GFLOP/s %.2f  weight bandwidth %.2f GB/s (%d weight bytes per step)",
                     result.gflops, result.weightBandwidthGBs, result.weightBytes))
    }

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
