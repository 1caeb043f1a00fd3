import ArgumentParser
import RNNFormat
import RNNRuntime

@main
struct RNNConvert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rnnconvert",
        abstract: "Inspect, import, quantize, run, verify and benchmark RNN model files.",
        version: "0.1.0",
        subcommands: [RunCommand.self, BenchCommand.self]
    )
}
