import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes a reader reads: a regular file, read with `pread` and never mapped, or bytes in
/// memory (`Data`).
///
/// Every reader (HDF5, zip checkpoints, safetensors, `.npy`) takes one, so a model loads the same
/// way from a path, a bundle `URL` or a downloaded `Data`. Every read is bounds-checked against
/// the size seen when the source was opened, and nothing larger than what is asked for is ever
/// brought into memory. Reads at absolute offsets have no shared position, so a source may be
/// read from several threads at once.
final class ByteSource: Sendable {
    /// How errors name the source: the path as the caller gave it, or `<data>` / `<data: NAME>`.
    let name: String
    /// Size in bytes when opened.
    let size: Int
    private let storage: Storage

    private enum Storage: Sendable {
        case file(descriptor: Int32)
        case memory(Data)
    }

    /// Opens `path` for reading.
    ///
    /// - Throws: `RNNFormatError(.io)` when the file cannot be opened or is not a regular file.
    init(path: String) throws {
        name = path
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
        storage = .file(descriptor: fd)
        size = Int(info.st_size)
    }

    /// Opens the file a file URL names.
    ///
    /// - Throws: `RNNFormatError(.io)` for a URL that is not a file URL, or as `init(path:)`.
    convenience init(url: URL) throws {
        guard url.isFileURL else {
            throw RNNFormatError(.io, file: url.absoluteString, "not a file URL (load remote models into Data first)")
        }
        try self.init(path: url.path)
    }

    /// Wraps bytes in memory; `label` names them in errors (`<data: label>`).
    init(data: Data, label: String?) {
        name = label.map { "<data: \($0)>" } ?? "<data>"
        storage = .memory(data)
        size = data.count
    }

    deinit {
        if case .file(let fd) = storage { close(fd) }
    }

    /// Reads exactly `count` bytes at `offset`.
    ///
    /// - Throws: `RNNFormatError(.truncated)` when the range passes the end of the source, `.io`
    ///   when the read fails.
    func read(at offset: Int, count: Int) throws -> [UInt8] {
        try checkRange(offset, count)
        if count == 0 { return [] }
        return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            try copy(at: offset, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// Reads up to `maxCount` bytes at `offset`, fewer at the end of the source.
    func readPrefix(at offset: Int, maxCount: Int) throws -> [UInt8] {
        guard offset >= 0, offset <= size else { return [] }
        return try read(at: offset, count: min(maxCount, size - offset))
    }

    /// Copies `destination.count` bytes at `offset` into `destination`.
    ///
    /// - Throws: as `read(at:count:)`; `destination` is then partly written.
    func copy(at offset: Int, into destination: UnsafeMutableRawBufferPointer) throws {
        let count = destination.count
        try checkRange(offset, count)
        guard count > 0, let base = destination.baseAddress else { return }
        switch storage {
        case .memory(let data):
            data.withUnsafeBytes { source in
                if let start = source.baseAddress { base.copyMemory(from: start + offset, byteCount: count) }
            }
        case .file(let fd):
            var done = 0
            while done < count {
                let n = pread(fd, base + done, count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw RNNFormatError(.io, file: name, "read failed at offset \(offset + done): \(String(cString: strerror(errno)))")
                }
                if n == 0 {
                    throw RNNFormatError(.truncated, file: name,
                                         "file shrank while reading: expected \(count) bytes at offset \(offset), got \(done)")
                }
                done += n
            }
        }
    }

    private func checkRange(_ offset: Int, _ count: Int) throws {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw RNNFormatError(.truncated, file: name,
                                 "expected \(count) bytes at offset \(offset), but the source has \(size) bytes")
        }
    }
}
