import CLibFuzzer
import Foundation
import RNNFormat
import RNNFormatWriter
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hands fuzzer inputs to the path-based readers and checks what every failure must look like.
public enum FuzzInput {
    /// A per-process scratch file in /dev/shm (or the temporary directory) ending in `suffix`.
    public static func scratchPath(_ suffix: String) -> String {
        var directory = "/dev/shm"
        if access(directory, W_OK) != 0 {
            directory = String(cString: getenv("TMPDIR") ?? strdup("/tmp"))
        }
        return "\(directory)/rnnkit-fuzz-\(getpid())-\(suffix)"
    }

    /// Replaces the content of `path` with the `size` bytes at `data`; traps when that fails,
    /// since a harness that cannot write its input tests nothing.
    public static func write(_ data: UnsafePointer<UInt8>?, _ size: Int, to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { fatalError("cannot write fuzz input \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var done = 0
        while done < size {
            guard let data else { break }
            let n = Glibc.write(fd, data + done, size - done)
            guard n > 0 else { fatalError("cannot write fuzz input \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    /// Traps (so libFuzzer records the input) when a thrown error breaks the contract of every
    /// reader: an `RNNFormatError` whose one-line description starts with the file it names.
    public static func check(_ error: any Error, file: String) {
        guard let error = error as? RNNFormatError else {
            fatalError("reader threw a \(type(of: error)), not an RNNFormatError: \(error)")
        }
        let text = error.description
        // tools/fuzz.sh TARGET replay FILE... sets this to show what each input gives.
        if getenv("RNNKIT_FUZZ_VERBOSE") != nil {
            let line = Array("error: \(text)\n".utf8)
            _ = line.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
        }
        if !text.hasPrefix(file) { fatalError("error does not start with the file name: \(text)") }
        if text.contains("\n") { fatalError("error is not one line: \(text)") }
    }
}

extension FuzzInput {
    /// Reads `input` with `read`; errors must be clear (`check`). A model that loads must be
    /// written to `output` as a model file and read back with the same modules and values.
    public static func readAndRoundTrip(_ input: String, output: String, _ read: (String) throws -> ModelFile) {
        let model: ModelFile
        do {
            model = try read(input)
        } catch {
            check(error, file: input)
            return
        }
        roundTrip(model, output: output)
    }

    /// `readAndRoundTrip` for the bytes themselves, read in memory (`ModelFile(data:name:)`:
    /// errors name `<data: input>`).
    public static func readAndRoundTrip(_ data: UnsafePointer<UInt8>?, _ size: Int, output: String) {
        let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
        let model: ModelFile
        do {
            model = try ModelFile(data: bytes, name: "input")
        } catch {
            check(error, file: "<data: input>")
            return
        }
        roundTrip(model, output: output)
    }

    private static func roundTrip(_ model: ModelFile, output: String) {
        do {
            try model.write(to: output, overwrite: true)
            let again = try ModelFile.read(path: output)
            // The writer stores float64 and bfloat16 sources as float32: compare values, not types.
            func values(_ m: ModelFile) -> [[String: Tensor]] { m.modules.map { $0.parameters.mapValues(\.floatValue) } }
            if again.modules.map(\.path) != model.modules.map(\.path) || again.modules.map(\.config) != model.modules.map(\.config)
                || values(again) != values(model) {
                fatalError("a model read from the input does not survive write and read")
            }
        } catch {
            fatalError("a model read from the input cannot be written and read back: \(error)")
        }
    }
}

/// Runs libFuzzer's driver with the process arguments and `body` as the target; never returns.
///
/// - Parameters:
///   - body: the harness, called once per input with its bytes.
public func runFuzzer(_ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, body))
}
