#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The few superblock fields needed to tell a truncated file from a damaged one before libhdf5
/// opens it: where the superblock starts and the end-of-file address it declares.
///
/// Layout from the HDF5 File Format Specification, "Superblock": versions 0 and 1 keep the
/// end-of-file address after the base and free-space addresses (at 24 or 28 + 2·offsetSize),
/// versions 2 and 3 after the base and extension addresses (at 12 + 2·offsetSize).
enum HDF5Superblock {
    /// Refuses a file whose superblock is cut off or declares more bytes than the file holds.
    ///
    /// - Throws: `.truncated` naming the declared and actual sizes; `.io` when unreadable.
    static func checkLength(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw RNNFormatError(.io, file: path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw RNNFormatError(.io, file: path, "cannot stat: \(String(cString: strerror(errno)))") }
        let size = Int(info.st_size)
        func bytes(at offset: Int, count: Int) -> [UInt8] {
            var buffer = [UInt8](repeating: 0, count: count)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return n > 0 ? Array(buffer.prefix(n)) : []
        }
        func truncated(_ message: String) -> RNNFormatError {
            RNNFormatError(.truncated, file: path, "file is truncated: \(message)")
        }
        guard let location = locate(size: size, read: bytes) else {
            // No signature (SourceFormat reports it), a cut-off superblock, or a version
            // libhdf5 itself will judge.
            if let start = signatureStart(size: size, read: bytes), bytes(at: start, count: 64).count < 64 {
                throw truncated("it ends inside the HDF5 superblock (\(size) bytes)")
            }
            return
        }
        let offsetSize = location.offsetSize, head = location.head
        guard [2, 4, 8].contains(offsetSize) else { return }
        let eofAt = location.version >= 2 ? 12 + 2 * offsetSize : (location.version == 0 ? 24 : 28) + 2 * offsetSize
        guard head.count >= eofAt + offsetSize else {
            throw truncated("it ends inside the HDF5 superblock (\(size) bytes)")
        }
        var eof: UInt64 = 0
        for i in (0..<offsetSize).reversed() { eof = eof << 8 | UInt64(head[eofAt + i]) }
        let undefined = offsetSize == 8 ? UInt64.max : (UInt64(1) << UInt64(offsetSize * 8)) - 1
        guard eof != undefined else { return }
        // The end-of-file address counts from the start of the file, user block included
        // (libhdf5 compares it with the whole file's size).
        if eof > UInt64(size) {
            throw truncated("the HDF5 superblock declares \(eof) bytes, the file holds \(size)")
        }
    }

    /// Where the superblock starts and the sizes of addresses and lengths it declares.
    struct Location {
        var start: Int
        var version: UInt8
        var offsetSize: Int
        var lengthSize: Int
        /// Old-style groups' B-tree K values (versions 0 and 1; 0 for versions 2 and 3, which
        /// keep them elsewhere).
        var groupLeafK: Int = 0
        var groupInternalK: Int = 0
        /// The superblock's first 64 bytes (fewer when the file is shorter).
        var head: [UInt8]
    }

    /// The offset of the first HDF5 signature: 0, 512, 1024, ... (a user block precedes it).
    static func signatureStart(size: Int, read: (Int, Int) -> [UInt8]) -> Int? {
        var start = 0
        while read(start, 8) != HDF5Layout.signature {
            start = start == 0 ? 512 : start * 2
            guard start + 8 <= size else { return nil }
        }
        return start
    }

    /// Finds the superblock; nil when there is none or it is cut off before the size fields,
    /// or its version is one libhdf5 will refuse itself.
    static func locate(size: Int, read: (Int, Int) -> [UInt8]) -> Location? {
        guard let start = signatureStart(size: size, read: read) else { return nil }
        let head = read(start, 64)
        guard head.count > 14 else { return nil }
        switch head[8] {
        case 0, 1:
            guard head.count >= 20 else { return nil }
            return Location(start: start, version: head[8], offsetSize: Int(head[13]), lengthSize: Int(head[14]),
                            groupLeafK: Int(head[16]) | Int(head[17]) << 8, groupInternalK: Int(head[18]) | Int(head[19]) << 8,
                            head: head)
        case 2, 3: return Location(start: start, version: head[8], offsetSize: Int(head[9]), lengthSize: Int(head[10]), head: head)
        default: return nil
        }
    }
}
