#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that readers see either nothing or the complete file: the bytes go to a
/// temporary file in the target's directory, are flushed to disk, and the temporary file is
/// then moved into place (`rename` when overwriting, `link` when the target must not exist,
/// which fails atomically if it appeared meanwhile).
final class AtomicFileWriter {
    let path: String
    let overwrite: Bool
    private let temporaryPath: String
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private var finished = false

    /// Creates the temporary file next to `path`.
    /// - Throws: `.alreadyExists` when `path` exists and `overwrite` is false, `.io` otherwise.
    init(path: String, overwrite: Bool) throws {
        self.path = path
        self.overwrite = overwrite
        if !overwrite && access(path, F_OK) == 0 {
            throw RNNFormatError(.alreadyExists, file: path, "output exists; pass --force to overwrite")
        }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var template = Array(((directory.isEmpty ? "" : directory + "/") + "." + name + ".tmp-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw RNNFormatError(.io, file: path, "cannot create a temporary file in \(directory.isEmpty ? "/" : directory): \(String(cString: strerror(errno)))")
        }
        descriptor = fd
        temporaryPath = String(cString: template.map { UInt8(bitPattern: $0) } + [0])
        _ = fchmod(fd, 0o644)
    }

    deinit {
        if !finished {
            close(descriptor)
            unlink(temporaryPath)
        }
    }

    /// Appends bytes (buffered).
    func write(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 22 { try flush() }
    }

    private func flush() throws {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { systemWrite(descriptor, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RNNFormatError(.io, file: path, "write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, syncs and moves the file into place.
    /// - Throws: `.alreadyExists` if the target appeared and overwriting was not requested, `.io`.
    func commit() throws {
        try flush()
        guard fsync(descriptor) == 0 else {
            throw RNNFormatError(.io, file: path, "fsync failed: \(String(cString: strerror(errno)))")
        }
        close(descriptor)
        finished = true
        defer { unlink(temporaryPath) }
        if overwrite {
            guard rename(temporaryPath, path) == 0 else {
                throw RNNFormatError(.io, file: path, "cannot move the written file into place: \(String(cString: strerror(errno)))")
            }
        } else if link(temporaryPath, path) != 0 {
            let code = errno
            if code == EEXIST { throw RNNFormatError(.alreadyExists, file: path, "output exists; pass --force to overwrite") }
            // File systems without hard links: check, then rename (not atomic against a racing creator).
            guard code == EPERM || code == ENOTSUP || code == EOPNOTSUPP, access(path, F_OK) != 0,
                  rename(temporaryPath, path) == 0
            else {
                throw RNNFormatError(.io, file: path, "cannot move the written file into place: \(String(cString: strerror(code)))")
            }
        }
        // Make the new directory entry durable too.
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let dfd = open(directory.isEmpty ? "/" : directory, O_RDONLY)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }
}

private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, bytes, count)
    #else
    Darwin.write(fd, bytes, count)
    #endif
}
