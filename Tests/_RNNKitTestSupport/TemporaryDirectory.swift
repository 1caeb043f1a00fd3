import Foundation

/// A fresh directory for one test, removed when the value goes away.
public final class TemporaryDirectory: Sendable {
    public let path: String

    /// - Parameter inMemory: under /dev/shm when it exists, for tests whose writes would
    ///   otherwise wait on fsync to a disk.
    public init(inMemory: Bool = false) throws {
        let base = inMemory && FileManager.default.isWritableFile(atPath: "/dev/shm")
            ? "/dev/shm" : FileManager.default.temporaryDirectory.path
        let template = base + "/rnnkit-test-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// A path inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Names of the entries in the directory, sorted.
    public func entries() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }
}
