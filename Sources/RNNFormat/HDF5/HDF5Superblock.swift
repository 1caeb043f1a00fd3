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
        var start = 0
        while bytes(at: start, count: 8) != HDF5Layout.signature {
            start = start == 0 ? 512 : start * 2
            guard start + 8 <= size else { return }  // no signature: SourceFormat reports it
        }
        let head = bytes(at: start, count: 64)
        func truncated(_ message: String) -> RNNFormatError {
            RNNFormatError(.truncated, file: path, "file is truncated: \(message)")
        }
        guard head.count > 9 else { throw truncated("it ends inside the HDF5 superblock (\(size) bytes)") }
        let version = head[8]
        let offsetSize: Int
        let eofAt: Int
        switch version {
        case 0, 1:
            guard head.count > 13 else { throw truncated("it ends inside the HDF5 superblock (\(size) bytes)") }
            offsetSize = Int(head[13])
            eofAt = (version == 0 ? 24 : 28) + 2 * offsetSize
        case 2, 3:
            offsetSize = Int(head[9])
            eofAt = 12 + 2 * offsetSize
        default:
            return  // unknown superblock version: libhdf5 reports it
        }
        guard [2, 4, 8].contains(offsetSize) else { return }
        guard head.count >= eofAt + offsetSize else {
            throw truncated("it ends inside the HDF5 superblock (\(size) bytes)")
        }
        var eof: UInt64 = 0
        for i in (0..<offsetSize).reversed() { eof = eof << 8 | UInt64(head[eofAt + i]) }
        let undefined = offsetSize == 8 ? UInt64.max : (UInt64(1) << UInt64(offsetSize * 8)) - 1
        guard eof != undefined else { return }
        if eof > UInt64(size - start) {
            throw truncated("the HDF5 superblock declares \(eof) bytes, the file holds \(size - start)")
        }
    }
}
