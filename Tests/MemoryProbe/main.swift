import Foundation
import RNNFormat

// rnnkit-memprobe FILE...: reads each file as RNNKit would (ModelFile, or NpyArray for .npy)
// and prints one line per file, "<peak resident growth in bytes>\t<path>". Errors are expected
// (the files are hostile) and not printed: the tests that own the files check them.
//
// A test process runs many suites at once, and its peak resident size only ever rises, so a
// bound checked there is vacuous once anything else has allocated more. Here nothing else runs,
// and on Linux the peak is reset before each file (writing 5 to /proc/self/clear_refs), so one
// process measures every file. Elsewhere the peak cannot be reset: the caller passes one file
// per process, and the growth is measured from the process's start.

/// Peak resident bytes of this process so far.
func peakResidentBytes() -> Int {
    #if os(Linux)
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
       let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
       let kib = Int(line.split(separator: " ").dropFirst().first ?? "") {
        return kib * 1024
    }
    #endif
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)
    #endif
}

/// Makes the peak equal the current resident size; false where the system cannot.
func resetPeak() -> Bool {
    #if os(Linux)
    let fd = open("/proc/self/clear_refs", O_WRONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return write(fd, "5", 1) == 1
    #else
    return false
    #endif
}

/// Reads `path` and drops what it read.
func read(_ path: String) {
    if path.hasSuffix(".npy") {
        _ = try? NpyArray.read(path: path)
    } else {
        _ = try? ModelFile.read(path: path)
    }
}

let paths = Array(CommandLine.arguments.dropFirst())
let canReset = resetPeak()
if !canReset && paths.count > 1 {
    FileHandle.standardError.write(Data("rnnkit-memprobe: this system cannot reset the peak; pass one file per process\n".utf8))
    exit(2)
}
for path in paths {
    if canReset { _ = resetPeak() }
    let before = peakResidentBytes()
    read(path)
    print("\(peakResidentBytes() - before)\t\(path)")
}
