import Foundation
import Testing
@testable import RNNFormat

/// Time and memory a reader may spend on a hostile file, and the shape every failure must have.
enum HostileBounds {
    /// Wall-clock seconds one read of a small hostile file may take (the files are a few KiB;
    /// a read takes milliseconds, so this only catches loops and quadratic blow-ups).
    static let seconds = 2.0

    /// Growth of the process's peak resident set a read of a file of `bytes` may cause: a fixed
    /// allowance for the reader and libhdf5's caches plus 16 times the file size. Shape and
    /// decompression bombs declare gigabytes; this catches them.
    static func memory(forFileOf bytes: Int) -> Int { 96 << 20 + 16 * bytes }

    /// The process's peak resident set size in bytes (getrusage; Linux reports KiB, Darwin bytes).
    static func peakResidentBytes() -> Int {
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)  // Glibc's RUSAGE_SELF is an enum case
        return Int(usage.ru_maxrss) * 1024
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Int(usage.ru_maxrss)
        #endif
    }

    /// Runs `read`, then checks its time and peak-memory growth against the bounds for `path`;
    /// returns the error it threw, or nil when it succeeded.
    @discardableResult
    static func measure(_ path: String, _ read: () throws -> Void) -> (any Error)? {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let peakBefore = peakResidentBytes()
        let start = ContinuousClock.now
        var thrown: (any Error)?
        do { try read() } catch { thrown = error }
        let elapsed = ContinuousClock.now - start
        let growth = peakResidentBytes() - peakBefore
        #expect(elapsed < .seconds(seconds), "\(path): read took \(elapsed)")
        #expect(growth < memory(forFileOf: size), "\(path): peak RSS grew by \(growth) bytes for a file of \(size)")
        return thrown
    }

    /// Expects `error` to be an `RNNFormatError` whose one-line description starts with `path`.
    static func expectClear(_ error: (any Error)?, path: String, _ comment: Comment? = nil) {
        guard let error else { return }
        guard let formatError = error as? RNNFormatError else {
            Issue.record("\(path): threw \(type(of: error)), not RNNFormatError: \(error)")
            return
        }
        let text = formatError.description
        #expect(text.hasPrefix(path), "the error names the file: \(text)")
        #expect(!text.contains("\n"), "one line: \(text)")
    }
}
