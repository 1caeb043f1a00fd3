import CLibFuzzer
import RNNFormat
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
        if getenv("RNNKIT_FUZZ_VERBOSE") != nil { print("error: \(text)") }
        if !text.hasPrefix(file) { fatalError("error does not start with the file name: \(text)") }
        if text.contains("\n") { fatalError("error is not one line: \(text)") }
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
