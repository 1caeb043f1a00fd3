#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Replaces a file all at once: the content is produced in a temporary file next to the target,
/// synced, then renamed over it (or hard-linked, when the target must not exist). On any
/// failure the temporary file is removed and an existing target is left as it was.
package enum AtomicFile {
    /// Runs `produce` on a fresh temporary path in the target's directory, then commits it.
    ///
    /// - Parameters:
    ///   - path: the target.
    ///   - overwrite: when false an existing target is refused (`.alreadyExists`), also if it
    ///     appears while `produce` runs.
    ///   - beforeCommit: test hook run after the temporary file is synced.
    /// - Throws: `RNNFormatError` (`.alreadyExists`, `.io`) or whatever `produce` throws.
    package static func write(
        to path: String, overwrite: Bool, beforeCommit: () throws -> Void = {},
        _ produce: (_ temporary: String) throws -> Void
    ) throws {
        func ioError(_ what: String, _ code: Int32 = errno) -> RNNFormatError {
            RNNFormatError(.io, file: path, "\(what): \(String(cString: strerror(code)))")
        }
        var info = stat()
        if lstat(path, &info) == 0 {
            if !overwrite {
                throw RNNFormatError(.alreadyExists, file: path, "output exists; pass overwrite (--force) to replace it")
            }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                throw RNNFormatError(.io, file: path, "output is a directory")
            }
        }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !base.isEmpty else { throw RNNFormatError(.io, file: path, "output path names a directory") }
        let temporary = (directory == "/" ? "" : directory) + "/.\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var committed = false
        defer { if !committed { unlink(temporary) } }

        try produce(temporary)
        try sync(temporary, what: "cannot sync the temporary file", path: path)
        try beforeCommit()

        if overwrite {
            guard rename(temporary, path) == 0 else { throw ioError("cannot replace the output") }
        } else if link(temporary, path) == 0 {
            unlink(temporary)  // the target now holds the data; drop the second name
        } else if errno == EEXIST {
            throw RNNFormatError(.alreadyExists, file: path, "output exists; pass overwrite (--force) to replace it")
        } else {
            // Filesystems without hard links: fall back to check-then-rename.
            guard access(path, F_OK) != 0 else {
                throw RNNFormatError(.alreadyExists, file: path, "output exists; pass overwrite (--force) to replace it")
            }
            guard rename(temporary, path) == 0 else { throw ioError("cannot move the output into place") }
        }
        committed = true
        // Make the new directory entry durable; failure here does not undo the write.
        if let fd = Optional(open(directory, O_RDONLY)), fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    private static func sync(_ file: String, what: String, path: String) throws {
        let fd = open(file, O_RDONLY)
        guard fd >= 0 else { throw RNNFormatError(.io, file: path, "\(what): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw RNNFormatError(.io, file: path, "\(what): \(String(cString: strerror(errno)))") }
    }
}
