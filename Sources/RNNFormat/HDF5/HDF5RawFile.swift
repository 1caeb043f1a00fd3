#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks done on the raw bytes, before and beside libhdf5, where libhdf5 1.10 trusts the file:
/// the superblock's declared length (to tell a truncated file from a damaged one) and the
/// global heap collections that hold variable-length strings (libhdf5 copies heap objects with
/// the sizes the file declares; a corrupted size crashes it).
///
/// Layouts from the HDF5 File Format Specification: "Superblock" (versions 0 and 1 keep the
/// end-of-file address after the base and free-space addresses, at 24 or 28 + 2·offsetSize;
/// versions 2 and 3 after the base and extension addresses, at 12 + 2·offsetSize) and
/// "Global Heap" (collections `GCOL`, version 1, of objects with index, reference count and size).
struct HDF5RawFile {
    let path: String
    let size: Int
    /// Offset of the superblock (0, or 512, 1024, ... after a user block).
    private(set) var start = 0
    private(set) var offsetSize = 8
    private(set) var lengthSize = 8
    /// The superblock's version, and (versions 0 and 1) old-style groups' B-tree K values.
    private(set) var version: UInt8 = 0
    private(set) var groupLeafK = 0
    private(set) var groupInternalK = 0
    private let fd: Int32

    private init(path: String, fd: Int32, size: Int) {
        self.path = path
        self.fd = fd
        self.size = size
    }

    /// Runs `body` with the file open for raw reads.
    ///
    /// - Throws: `.io` when the file cannot be read, `.truncated` when its superblock is cut off
    ///   or declares more bytes than the file holds, or whatever `body` throws.
    static func withFile<T>(path: String, _ body: (HDF5RawFile) throws -> T) throws -> T {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw RNNFormatError(.io, file: path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw RNNFormatError(.io, file: path, "cannot stat: \(String(cString: strerror(errno)))") }
        var file = HDF5RawFile(path: path, fd: fd, size: Int(info.st_size))
        try file.readSuperblock()
        return try body(file)
    }

    func bytes(at offset: Int, count: Int) -> [UInt8] {
        guard offset >= 0, count > 0, offset < size else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        return n > 0 ? Array(buffer.prefix(n)) : []
    }

    private func truncated(_ message: String) -> RNNFormatError {
        RNNFormatError(.truncated, file: path, "file is truncated: \(message)")
    }

    private mutating func readSuperblock() throws {
        while bytes(at: start, count: 8) != HDF5Layout.signature {
            start = start == 0 ? 512 : start * 2
            guard start + 8 <= size else { start = 0; return }  // no signature: SourceFormat reports it
        }
        let head = bytes(at: start, count: 64)
        guard head.count > 10 else { throw truncated("it ends inside the HDF5 superblock (\(size) bytes)") }
        version = head[8]
        let eofAt: Int
        switch version {
        case 0, 1:
            guard head.count > 14 else { throw truncated("it ends inside the HDF5 superblock (\(size) bytes)") }
            offsetSize = Int(head[13])
            lengthSize = Int(head[14])
            if head.count >= 20 {
                groupLeafK = Int(head[16]) | Int(head[17]) << 8
                groupInternalK = Int(head[18]) | Int(head[19]) << 8
            }
            eofAt = (version == 0 ? 24 : 28) + 2 * offsetSize
        case 2, 3:
            offsetSize = Int(head[9])
            lengthSize = Int(head[10])
            eofAt = 12 + 2 * offsetSize
        default:
            return  // unknown superblock version: libhdf5 reports it
        }
        guard [2, 4, 8].contains(offsetSize), [2, 4, 8].contains(lengthSize) else { return }
        guard head.count >= eofAt + offsetSize else {
            throw truncated("it ends inside the HDF5 superblock (\(size) bytes)")
        }
        let eof = Self.decode(head, at: eofAt, width: offsetSize)
        let undefined = offsetSize == 8 ? UInt64.max : (UInt64(1) << UInt64(offsetSize * 8)) - 1
        // The end-of-file address counts from the start of the file, user block included
        // (libhdf5 compares it with the whole file's size; userblock_512.h5 must load).
        if eof != undefined && eof > UInt64(size) {
            throw truncated("the HDF5 superblock declares \(eof) bytes, the file holds \(size)")
        }
    }

    private static func decode(_ bytes: [UInt8], at offset: Int, width: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in (0..<width).reversed() { value = value << 8 | UInt64(bytes[offset + i]) }
        return value
    }

    /// Offsets in the file where `pattern` occurs, outside the sorted ranges `skip`.
    private func occurrences(of pattern: [UInt8], skipping skip: [Range<Int>]) -> [Int] {
        var found: [Int] = []
        let block = 1 << 20
        var position = 0
        var skipIndex = 0
        while position < size {
            while skipIndex < skip.count && skip[skipIndex].upperBound <= position { skipIndex += 1 }
            if skipIndex < skip.count && skip[skipIndex].contains(position) {
                position = skip[skipIndex].upperBound
                continue
            }
            var end = min(size, position + block)
            if skipIndex < skip.count { end = min(end, skip[skipIndex].lowerBound) }
            let chunk = bytes(at: position, count: end - position + pattern.count - 1)
            chunk.withUnsafeBytes { haystack in
                pattern.withUnsafeBytes { needle in
                    var offset = 0
                    // memchr for the first byte, then compare (memmem is not portable).
                    while offset < end - position, offset + needle.count <= haystack.count,
                          let hit = memchr(haystack.baseAddress! + offset, Int32(needle[0]), end - position - offset) {
                        let at = haystack.baseAddress!.distance(to: UnsafeRawPointer(hit))
                        if at + needle.count <= haystack.count,
                           memcmp(haystack.baseAddress! + at, needle.baseAddress!, needle.count) == 0 {
                            found.append(position + at)
                        }
                        offset = at + 1
                    }
                }
            }
            position = end
        }
        return found
    }

    /// Checks the global heap, which holds variable-length strings, before libhdf5 reads any.
    ///
    /// libhdf5 1.10 copies heap objects with the sizes and indices the file declares, checking
    /// them only with assertions; fuzzing crashed it with one flipped byte. So: every collection
    /// (`GCOL`, anywhere in the file) must be tiled exactly by its objects; and every reference to
    /// a collection found outside dataset data (length, collection address, object index: how
    /// attributes store a string) must name an object that exists, with that length.
    ///
    /// - Parameter skip: byte ranges of contiguous dataset data, where references cannot be.
    /// - Throws: `.refused` naming the byte offset and what is wrong.
    func checkGlobalHeaps(skipping skip: [Range<Int>]) throws {
        let ranges = skip.sorted { $0.lowerBound < $1.lowerBound }
        // Dataset data may hold the signature's bytes by chance (a writer that copied such a
        // tensor was refused on reading its own output; found by tools/fuzz.sh hdf5).
        let heaps = try globalHeapCollections(skipping: ranges)
        for (offset, objects) in heaps.sorted(by: { $0.key < $1.key }) {
            let address = UInt64(offset - start)
            let sizes = Set(objects.values)
            let pattern = (0..<offsetSize).map { UInt8(truncatingIfNeeded: address >> UInt64(8 * $0)) }
            for hit in occurrences(of: pattern, skipping: ranges) where hit >= 4 {
                let reference = bytes(at: hit - 4, count: 4 + offsetSize + 4)
                guard reference.count == 8 + offsetSize else { continue }
                let length = Self.decode(reference, at: 0, width: 4)
                let index = UInt32(Self.decode(reference, at: 4 + offsetSize, width: 4))
                // Only what looks like a string reference: a length some object of this heap has.
                guard length > 0, sizes.contains(length) else { continue }
                guard let size = objects[index], size == length else {
                    throw RNNFormatError(.refused, file: path, object: "global heap at byte \(offset)",
                                         "damaged: a reference at byte \(hit - 4) names object \(index) of \(length) bytes, which the heap does not hold")
                }
            }
        }
    }

    /// Checks every global heap collection outside the sorted ranges `skip`; returns each one's
    /// objects' sizes by index, by the collection's byte offset in the file.
    ///
    /// - Throws: `.refused` naming the collection's byte offset and what is wrong.
    private func globalHeapCollections(skipping skip: [Range<Int>]) throws -> [Int: [UInt32: UInt64]] {
        let magic: [UInt8] = [0x47, 0x43, 0x4F, 0x4C, 0x01, 0x00, 0x00, 0x00]  // "GCOL", version 1, reserved
        var heaps: [Int: [UInt32: UInt64]] = [:]
        for offset in occurrences(of: magic, skipping: skip) where offset >= start {
            heaps[offset] = try checkCollection(at: offset)
        }
        return heaps
    }

    /// Checks one collection; returns its objects' sizes by index.
    func checkCollection(at offset: Int) throws -> [UInt32: UInt64] {
        func refuse(_ message: String) -> RNNFormatError {
            RNNFormatError(.refused, file: path, object: "global heap at byte \(offset)", "damaged: \(message)")
        }
        let align = { (x: Int) in (x + 7) / 8 * 8 }
        let header = bytes(at: offset, count: 8 + lengthSize)
        guard header.count == 8 + lengthSize else { throw refuse("collection header cut off by the end of the file") }
        let declared = Self.decode(header, at: 8, width: lengthSize)
        guard declared >= 4096, declared <= UInt64(size - offset) else {
            throw refuse("collection size \(declared) is below 4096 or runs past the end of the file (\(size) bytes)")
        }
        let collectionSize = Int(declared)
        let data = bytes(at: offset, count: collectionSize)
        guard data.count == collectionSize else { throw refuse("collection cut off by the end of the file") }
        let objectHeader = align(8 + lengthSize)
        var p = align(8 + lengthSize)
        var objects: [UInt32: UInt64] = [:]
        while p < collectionSize {
            if p + objectHeader > collectionSize { break }  // tail too small for an object: free space
            let index = UInt16(data[p]) | UInt16(data[p + 1]) << 8
            let objectSize = Self.decode(data, at: p + 8, width: lengthSize)
            let remaining = UInt64(collectionSize - p)
            let need: UInt64
            if index == 0 {
                need = objectSize  // the free-space object counts its own header
                guard need >= UInt64(objectHeader) else { throw refuse("free-space object of \(objectSize) bytes at \(offset + p)") }
            } else {
                guard objects.updateValue(objectSize, forKey: UInt32(index)) == nil else { throw refuse("object index \(index) appears twice") }
                guard objectSize <= remaining else { throw refuse("object \(index) declares \(objectSize) bytes, the collection has \(remaining) left") }
                need = UInt64(objectHeader) + UInt64(align(Int(objectSize)))
            }
            guard need <= remaining else { throw refuse("object \(index) declares \(objectSize) bytes, the collection has \(remaining) left") }
            p += Int(need)
        }
        return objects
    }
}
