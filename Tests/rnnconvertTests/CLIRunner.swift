import Foundation
import _RNNKitTestSupport
import RNNFormat

/// Runs the built `rnnconvert` binary, as a user would.
enum CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stderrLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast() }
    }

    static let repositoryRoot = Repository.root

    static func built(_ program: String) -> String? { Repository.builtProgram(program) }

    static let binary: String? = built("rnnconvert")

    /// Runs `rnnconvert` (or another program of the package) with `arguments`, with
    /// `environment` added to this process's. Output goes to files, not pipes, so a chatty
    /// stderr cannot block the child while the parent waits on stdout.
    static func run(_ arguments: [String], program: String = "rnnconvert", environment: [String: String] = [:]) throws -> Result {
        let scratch = try TemporaryDirectory()
        let outPath = scratch.file("stdout")
        let errPath = scratch.file("stderr")
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: (program == "rnnconvert" ? binary : built(program)) ?? "/nonexistent/\(program)")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = out
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self),
                      stderr: String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self))
    }
}
