import ArgumentParser
import Foundation
import RNNFormat
import RNNFormatWriter
import RNNKitTools
import RNNRuntime

@main
struct RNNConvert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rnnconvert",
        abstract: "Inspect, import, quantize, run, verify and benchmark RNN model files.",
        version: "0.1.0",
        subcommands: [
            InspectCommand.self,
            ImportCommand.self,
            ExportCommand.self,
            QuantizeCommand.self,
            CompareCommand.self,
            RunCommand.self,
            VerifyCommand.self,
            BenchCommand.self,
        ]
    )

    /// Parses and runs a command. Help and version print as usual; a command-line mistake
    /// becomes the same one `error:` line as any other failure (see `ErrorReporting`).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if let exit = error as? ExitCode {
                Self.exit(withError: exit)
            }
            if exitCode(for: error) == .success {
                Self.exit(withError: error)  // --help, --version
            }
            ErrorReporting.printError(message(for: error))
            Foundation.exit(exitCode(for: error).rawValue)
        }
    }
}
