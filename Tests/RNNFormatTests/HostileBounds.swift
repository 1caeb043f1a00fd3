import Foundation
import Testing
@testable import RNNFormat

/// Time and memory a reader may spend on a hostile file, and the shape every failure must have.
enum HostileBounds {
    /// Wall-clock seconds one read of a small hostile file may take (the files are a few KiB;
    /// a read takes milliseconds, so this only catches loops and quadratic blow-ups).
    static let seconds = 2.0

    /// Growth of the peak resident set a read of a file of `bytes` may cause: a fixed
    /// allowance for the reader plus 16 times the file size. Shape and decompression bombs
    /// declare gigabytes; this catches them. Measured by HostileMemoryTests, each read alone in
    /// a process of its own: within the parallel test run a peak would say nothing.
    static func memory(forFileOf bytes: Int) -> Int { 96 << 20 + 16 * bytes }

    /// Runs `read`, then checks its time against the bound; returns the error it threw, or nil
    /// when it succeeded. (Memory: HostileMemoryTests.)
    @discardableResult
    static func measure(_ path: String, _ read: () throws -> Void) -> (any Error)? {
        let start = ContinuousClock.now
        var thrown: (any Error)?
        do { try read() } catch { thrown = error }
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .seconds(seconds), "\(path): read took \(elapsed)")
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
