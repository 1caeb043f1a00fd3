import Foundation
import Testing
import _RNNKitTestSupport

/// What an app depending on the app-facing products gets: the example app (Examples/, which
/// depends on RNNFormat and RNNRuntime only) loads from Data, a URL and a checkpoint and matches
/// PyTorch; its binary links no libhdf5; and reading never calls libhdf5, even in the tool that
/// links it for writing.
@Suite("App-facing products")
struct AppFacingTests {
    static let fixture = CLI.repositoryRoot + "/fixtures/float/gru_bi_2l"

    @Test("the example app loads a canonical file from Data, an h5py dump from a URL and a torch.save checkpoint, and matches PyTorch")
    func exampleApp() throws {
        let directory = try TemporaryDirectory()
        let canonical = directory.file("encoder.h5")
        let made = try CLI.run(["import", Self.fixture + "/dump.h5", "-o", canonical])
        try #require(made.status == 0, "\(made.stderr)")
        let run = try CLI.run([canonical, Self.fixture], program: "SwiftAppExample")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        // The lines a reader of the README sees (Examples/SwiftAppExample/main.swift prints them).
        #expect(lines.count == 5, "\(run.stdout)")
        for (line, source) in zip(lines, ["canonical .h5 from Data", "h5py dump from a URL", "torch.save checkpoint"]) {
            #expect(line == "\(source): output [6, 3, 14], h_n [4, 3, 7], max |ours - PyTorch| <= 1e-5", "\(line)")
        }
        #expect(lines.dropLast().last == "streaming 6 frames equals one call: true")
        #expect(lines.last == "all three sources match PyTorch within 1e-5")
        // The README shows this output after the example's code.
        let readme = try String(contentsOfFile: CLI.repositoryRoot + "/README.md", encoding: .utf8)
        let section = try #require(readme.range(of: "## Use it from a Swift app"))
        let shown = try #require(readme[section.upperBound...].range(of: "It prints:\n\n```\n"))
        let end = try #require(readme[shown.upperBound...].range(of: "```"))
        #expect(String(readme[shown.upperBound..<end.lowerBound]) == run.stdout, "README's printed output differs from the example's")
    }

    /// The dynamic libraries a binary loads (`ldd`; `otool -L` on macOS).
    static func linkedLibraries(_ binary: String) throws -> String {
        let process = Process()
        #if os(macOS)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/otool")
        process.arguments = ["-L", binary]
        #else
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ldd", binary]
        #endif
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test("the example app links no libhdf5 (rnnconvert, which writes files, does)")
    func exampleLinksNoLibhdf5() throws {
        let example = try #require(CLI.built("SwiftAppExample"), "SwiftAppExample is not built")
        let tool = try #require(CLI.binary)
        let exampleLibraries = try Self.linkedLibraries(example)
        #expect(exampleLibraries.contains("libz"), "the listing works and names zlib: \(exampleLibraries)")
        #expect(!exampleLibraries.contains("hdf5"), "\(exampleLibraries)")
        #expect(try Self.linkedLibraries(tool).contains("hdf5"), "control: rnnconvert links libhdf5")
    }

    #if os(Linux)
    /// A library defining libhdf5's read entry points as `abort()`: preloaded, it replaces them
    /// in any process that links libhdf5.
    static let shim = """
        #include <stdlib.h>
        #define TRAP(name) void name(void) { abort(); }
        TRAP(H5Fopen) TRAP(H5Fis_hdf5) TRAP(H5Fis_accessible) TRAP(H5Oopen) TRAP(H5Gopen2) TRAP(H5Dopen2)
        TRAP(H5Dread) TRAP(H5Aopen) TRAP(H5Aopen_by_name) TRAP(H5Aread) TRAP(H5Literate2) TRAP(H5Ovisit3)
        """

    /// A program that opens a file through libhdf5: with the shim preloaded it must abort.
    static let control = """
        #include <hdf5.h>
        int main(int argc, char **argv) { return H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT) < 0; }
        """

    static func compile(_ source: String, to output: String, arguments: [String]) throws -> (status: Int32, output: String) {
        let file = output + ".c"
        try Data(source.utf8).write(to: URL(fileURLWithPath: file))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // The toolchain's clang is there wherever Swift is; pkg-config knows libhdf5's flags.
        process.arguments = ["-c", "exec ${CC:-clang} \"$0\" -o \"$1\" " + arguments.joined(separator: " ") + " 2>&1", file, output]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("inspect, run, verify, import, quantize and export read every format with libhdf5's read functions made to abort")
    func readingNeverCallsLibhdf5() throws {
        let directory = try TemporaryDirectory()
        let library = directory.file("libtrap.so")
        let built = try Self.compile(Self.shim, to: library, arguments: ["-shared", "-fPIC"])
        try #require(built.status == 0, "\(built.output)")
        let preload = ["LD_PRELOAD": library]

        // Control: a program that reads through libhdf5 dies under the shim.
        let controlBinary = directory.file("control")
        let control = try Self.compile(Self.control, to: controlBinary, arguments: ["$(pkg-config --cflags --libs hdf5)"])
        try #require(control.status == 0, "\(control.output)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: controlBinary)
        process.arguments = [Self.fixture + "/dump.h5"]
        process.environment = ProcessInfo.processInfo.environment.merging(preload) { _, new in new }
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGABRT, "the shim replaces H5Fopen")

        let quant = CLI.repositoryRoot + "/fixtures/quant/qgru_bi_2l"
        let calls: [[String]] = [
            ["inspect", Self.fixture + "/dump.h5"],
            ["inspect", Self.fixture + "/attrs.h5"],
            ["inspect", CLI.repositoryRoot + "/fixtures/hdf5/lstm_proj_bi_2l.latest.h5"],
            ["inspect", Self.fixture + "/train.pt"],
            ["inspect", Self.fixture + "/model.safetensors"],
            ["verify", CLI.repositoryRoot + "/fixtures/hdf5/gru_bi_2l.gzip.h5"],
            ["import", Self.fixture + "/dump.h5", "-o", directory.file("imported.h5")],
            ["verify", directory.file("imported.h5")],
            ["run", directory.file("imported.h5"), "--input", Self.fixture + "/batched.input.npy", "--out", directory.file("run")],
            ["quantize", quant + "/dump.h5", "-o", directory.file("q.h5")],
            ["run", directory.file("q.h5"), "--input", quant + "/batched.input.npy", "--out", directory.file("qrun")],
            ["export", directory.file("imported.h5"), "-o", directory.file("exported.safetensors")],
        ]
        for arguments in calls {
            let result = try CLI.run(arguments, environment: preload)
            #expect(result.status == 0, "\(arguments.joined(separator: " ")): \(result.stderr)")
        }
    }
    #endif
}
