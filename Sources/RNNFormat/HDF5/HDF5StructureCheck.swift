#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks, in plain Swift and before libhdf5 decodes them, the file structures in which
/// libhdf5 1.10 trusts lengths and links it reads from the file.
///
/// Fuzzing the reader (tools/fuzz.sh hdf5) found libhdf5 looping forever, allocating without
/// bound or reading past its buffers on one-byte changes to these structures (inputs in
/// fixtures/hostile/regressions). None of it can be caught through libhdf5's API, so the
/// reader checks them first, following the HDF5 File Format Specification (version 2 and 3
/// objects) and refusing anything libhdf5 would mis-handle:
/// - local heaps ("HEAP", names of old-style groups): a free list that loops or runs past the
///   heap (`H5HL__fl_deserialize`), data that does not end in a NUL byte (names are copied with
///   `strdup`);
/// - global heap collections ("GCOL", variable-length strings): objects that overlap the
///   collection's end or make no progress (`H5HG__cache_heap_deserialize`);
/// - object headers (`checkObjectHeader`, called for each object the profile walk reaches,
///   before libhdf5 opens it): message and continuation bounds, and attribute messages whose
///   name, datatype, dataspace and data must lie within the message, whose datatype is one the
///   profile reads, and whose variable-length strings point at existing heap objects no larger
///   than the length they declare (`H5O_attr_decode`, `H5T__conv_vlen`, `H5HG_read`).
///
/// Every heap libhdf5 could load starts with its signature, so heaps are found by scanning the
/// file for it; object headers are checked at the addresses libhdf5 reports.
final class HDF5StructureCheck {
    let path: String
    let fileSize: Int
    let superblock: HDF5Superblock.Location
    private let descriptor: Int32
    /// Objects of each global heap collection by the collection's address (relative to the
    /// superblock): object index to data size in bytes.
    private(set) var collections: [UInt64: [UInt16: UInt64]] = [:]

    /// Opens `path`, finds the superblock and checks every local and global heap.
    ///
    /// - Returns: nil when the file holds no superblock this check can read (SourceFormat and
    ///   libhdf5 report those).
    /// - Throws: `.malformed` naming the heap's byte offset; `.io` when unreadable.
    static func open(path: String) throws -> HDF5StructureCheck? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RNNFormatError(.io, file: path, "cannot open: \(String(cString: strerror(errno)))") }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw RNNFormatError(.io, file: path, "cannot stat: \(reason)")
        }
        let size = Int(info.st_size)
        let read = { (offset: Int, count: Int) -> [UInt8] in HDF5StructureCheck.pread(fd, offset, count) }
        guard let location = HDF5Superblock.locate(size: size, read: read),
              [2, 4, 8].contains(location.offsetSize), [2, 4, 8].contains(location.lengthSize)
        else {
            close(fd)
            return nil
        }
        let check = HDF5StructureCheck(path: path, descriptor: fd, fileSize: size, superblock: location)
        try check.checkHeaps()
        // libhdf5 loads the root group's header while opening the file.
        if let root = check.rootAddress() {
            try check.checkObjectHeader(address: root, object: "/")
        }
        return check
    }

    private init(path: String, descriptor: Int32, fileSize: Int, superblock: HDF5Superblock.Location) {
        self.path = path
        self.descriptor = descriptor
        self.fileSize = fileSize
        self.superblock = superblock
    }

    deinit { close(descriptor) }

    /// The root group's object header address from the superblock: in the root symbol table
    /// entry after four addresses (versions 0, 1), or after three (versions 2, 3).
    func rootAddress() -> UInt64? {
        let o = superblock.offsetSize
        let at: Int
        switch superblock.version {
        case 0: at = 24 + 4 * o + o
        case 1: at = 28 + 4 * o + o
        default: at = 12 + 3 * o
        }
        guard let field = bytes(at: UInt64(superblock.start + at), count: o) else { return nil }
        return Self.integer(field)
    }

    // MARK: Reading

    private static func pread(_ fd: Int32, _ offset: Int, _ count: Int) -> [UInt8] {
        guard offset >= 0, count > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress, count, off_t(offset)) }
        return n > 0 ? Array(buffer.prefix(n)) : []
    }

    /// `count` bytes at absolute file offset `offset`, or nil when the file ends first.
    func bytes(at offset: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0, offset <= UInt64(fileSize), UInt64(count) <= UInt64(fileSize) - offset else { return nil }
        if count == 0 { return [] }
        let result = HDF5StructureCheck.pread(descriptor, Int(offset), count)
        return result.count == count ? result : nil
    }

    /// The absolute file offset of `address` (addresses count from the superblock), or nil
    /// when it overflows.
    func absolute(_ address: UInt64) -> UInt64? {
        let (sum, overflow) = address.addingReportingOverflow(UInt64(superblock.start))
        return overflow ? nil : sum
    }

    /// A little-endian unsigned integer of `bytes.count` bytes (at most 8 are significant,
    /// as in libhdf5's decoders).
    static func integer<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    func malformed(_ object: String?, _ message: String) -> RNNFormatError {
        RNNFormatError(.malformed, file: path, object: object, message)
    }

    // MARK: Heaps

    private func checkHeaps() throws {
        let local: [UInt8] = Array("HEAP".utf8), global: [UInt8] = Array("GCOL".utf8)
        let chunk = 1 << 20
        var offset = superblock.start
        while offset < fileSize {
            let data = HDF5StructureCheck.pread(descriptor, offset, min(chunk, fileSize - offset))
            guard data.count >= 4 else { break }
            var hits: [(Int, Bool)] = []
            data.withUnsafeBytes { haystack in
                guard let base = haystack.baseAddress else { return }
                var from = 0
                // memchr jumps between candidate first bytes ("H", "G"); the rest is compared in place.
                for (tag, isLocal) in [(local, true), (global, false)] {
                    from = 0
                    while from + 4 <= haystack.count, let hit = memchr(base + from, Int32(tag[0]), haystack.count - from) {
                        let index = base.distance(to: UnsafeRawPointer(hit))
                        if index + 4 <= haystack.count && (1..<4).allSatisfy({ haystack[index + $0] == tag[$0] }) {
                            hits.append((index, isLocal))
                        }
                        from = index + 1
                    }
                }
            }
            for (index, isLocal) in hits.sorted(by: { $0.0 < $1.0 }) {
                if isLocal {
                    try checkLocalHeap(at: UInt64(offset + index))
                } else {
                    try checkGlobalHeap(at: UInt64(offset + index))
                }
            }
            if data.count < chunk { break }
            // Overlap chunks by three bytes so no signature is split unseen.
            offset += data.count - 3
        }
    }

    /// The local heap whose "HEAP" sits at `position`, walked as `H5HL__fl_deserialize` will.
    private func checkLocalHeap(at position: UInt64) throws {
        let lengthSize = superblock.lengthSize, offsetSize = superblock.offsetSize
        // libhdf5 refuses other versions and short headers itself.
        guard let header = bytes(at: position, count: 8 + 2 * lengthSize + offsetSize), header[4] == 0 else { return }
        let dataSize = Self.integer(header[8..<(8 + lengthSize)])
        var free = Self.integer(header[(8 + lengthSize)..<(8 + 2 * lengthSize)])
        // A heap whose data lies outside the file is refused by libhdf5 when it reads it.
        guard let data = absolute(Self.integer(header[(8 + 2 * lengthSize)...])),
              dataSize <= UInt64(fileSize), data <= UInt64(fileSize) - dataSize else { return }
        func fail(_ message: String) -> RNNFormatError { malformed(nil, "local heap at byte \(position): \(message)") }
        if dataSize > 0, let last = bytes(at: data + dataSize - 1, count: 1), last[0] != 0 {
            throw fail("its \(dataSize) bytes do not end in a NUL byte (names would run past the heap)")
        }
        var visited = Set<UInt64>()
        // libhdf5's end-of-free-list marker is 1 (H5HL_FREE_NULL).
        while free != 1 {
            guard free < dataSize else { return }  // libhdf5: "bad heap free list"
            guard free + UInt64(2 * lengthSize) <= dataSize else {
                throw fail("free block at \(free) ends beyond the heap's \(dataSize) bytes")
            }
            guard visited.insert(free).inserted else { throw fail("free list loops back to offset \(free)") }
            guard let block = bytes(at: data + free, count: 2 * lengthSize) else { return }
            let next = Self.integer(block[0..<lengthSize])
            let blockSize = Self.integer(block[lengthSize...])
            // libhdf5 refuses these itself.
            guard next != 0, blockSize <= dataSize, free + blockSize <= dataSize else { return }
            free = next
        }
    }

    /// The global heap collection whose "GCOL" sits at `position`, walked as
    /// `H5HG__cache_heap_deserialize` will; records its objects for `checkObjectHeader`.
    private func checkGlobalHeap(at position: UInt64) throws {
        let lengthSize = superblock.lengthSize
        guard let header = bytes(at: position, count: 8 + lengthSize), header[4] == 1 else { return }
        let size = Self.integer(header[8...])
        let headerSize = UInt64(8 + lengthSize), objectHeaderSize = UInt64(8 + lengthSize)
        func fail(_ message: String) -> RNNFormatError { malformed(nil, "global heap collection at byte \(position): \(message)") }
        // libhdf5 cannot read a collection beyond the file; a small one is at least 4096 bytes.
        guard size <= UInt64(fileSize) - min(position, UInt64(fileSize)) else { return }
        guard size >= headerSize, let chunk = bytes(at: position, count: Int(size)) else { return }
        var objects: [UInt16: UInt64] = [:]
        var offset = headerSize
        while offset < size {
            if offset + objectHeaderSize > size { break }  // the tail is free space
            let at = Int(offset)
            let index = UInt16(Self.integer(chunk[at..<(at + 2)]))
            let objectSize = Self.integer(chunk[(at + 8)..<(at + 8 + lengthSize)])
            let need: UInt64
            if index > 0 {
                guard objectSize <= size else { throw fail("object \(index) declares \(objectSize) bytes in a \(size)-byte collection") }
                need = objectHeaderSize + (objectSize + 7) / 8 * 8
            } else {
                need = objectSize
            }
            guard need > 0 else { throw fail("free-space object of size 0 at offset \(offset) (the walk would not advance)") }
            guard need <= size - offset else {
                throw fail("object \(index) at offset \(offset) needs \(need) bytes, past the collection's \(size)")
            }
            if index > 0 { objects[index] = objectSize }
            offset += need
        }
        if position >= UInt64(superblock.start) {
            collections[position - UInt64(superblock.start)] = objects
        }
    }
}
