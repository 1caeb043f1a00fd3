import ArgumentParser
import Foundation
import RNNFormat
import RNNFormatWriter
import RNNKitTools

/// The one place a command body's failure becomes what the user sees: exactly one line
/// `error: <description>` on stderr and a non-zero exit status, never a trap.
enum ErrorReporting {
    /// Runs `body`; maps any thrown error to one stderr line and `ExitCode.failure`.
    static func run(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let exit as ExitCode {
            throw exit
        } catch let error as RNNFormatError {
            printError(error.description)
            throw ExitCode.failure
        } catch {
            printError(String(describing: error))
            throw ExitCode.failure
        }
    }

    /// Prints `error: message` (newlines folded into spaces) to stderr.
    static func printError(_ message: String) {
        let line = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        FileHandle.standardError.write(Data("error: \(line)\n".utf8))
    }
}

/// Writes one line to stdout.
func printLine(_ text: String = "") {
    print(text)
}
