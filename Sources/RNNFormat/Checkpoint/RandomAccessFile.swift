#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file opened read-only for reads at absolute offsets (`pread`), closed when released.
///
/// Readers of zip and safetensors files use it so that nothing larger than what is asked for is
/// ever brought into memory; every read is bounds-checked against the size seen at open time.
final class RandomAccessFile {
    /// The path as the user gave it, for messages.
    let path: String
    /// Size in bytes when opened.
    let size: Int
    private let descriptor: Int32

    /// Opens `path` for reading.
    /// - Throws: `RNNFormatError(.io)` when the file cannot be opened or is not a regular file.
    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw RNNFormatError(.io, file: path, "cannot open for reading: \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw RNNFormatError(.io, file: path, "cannot stat: \(reason)")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw RNNFormatError(.io, file: path, "not a regular file")
        }
        self.descriptor = fd
        self.size = Int(info.st_size)
    }

    deinit { close(descriptor) }

    /// Reads exactly `count` bytes at `offset`.
    /// - Throws: `RNNFormatError(.truncated)` when the range passes the end of the file,
    ///   `.io` when the read fails.
    func read(at offset: Int, count: Int) throws -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw RNNFormatError(.truncated, file: path,
                                 "expected \(count) bytes at offset \(offset), but the file has \(size) bytes")
        }
        if count == 0 { return [] }
        return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let n = pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    initialized = done
                    throw RNNFormatError(.io, file: path, "read failed at offset \(offset + done): \(String(cString: strerror(errno)))")
                }
                if n == 0 {
                    initialized = done
                    throw RNNFormatError(.truncated, file: path,
                                         "file shrank while reading: expected \(count) bytes at offset \(offset), got \(done)")
                }
                done += n
            }
            initialized = count
        }
    }

    /// Reads up to `count` bytes at `offset`, fewer at the end of the file.
    func readPrefix(at offset: Int, maxCount: Int) throws -> [UInt8] {
        guard offset >= 0, offset <= size else { return [] }
        return try read(at: offset, count: min(maxCount, size - offset))
    }
}
