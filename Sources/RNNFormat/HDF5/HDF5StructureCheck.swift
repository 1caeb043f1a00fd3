/// Checks, in plain Swift and before libhdf5 decodes them, the metadata structures in which
/// libhdf5 1.10 trusts lengths and links it reads from the file.
///
/// Fuzzing the reader (tools/fuzz.sh hdf5) found libhdf5 looping forever, allocating without
/// bound or reading past its buffers on one-byte changes to these structures (inputs in
/// fixtures/hostile/regressions). None of it can be caught through libhdf5's API, so the
/// reader checks them first, following the HDF5 File Format Specification and refusing
/// anything libhdf5 would mis-handle:
/// - local heaps ("HEAP": names of old-style groups, external file lists), checked where a
///   symbol table or external file list message points: a free list that loops or runs past
///   the heap (`H5HL__fl_deserialize`), data that does not end in a NUL byte (names are copied
///   with `strdup`);
/// - global heap collections ("GCOL", variable-length strings), checked where an attribute's
///   string points, with `HDF5RawFile.checkCollection`;
/// - object headers (`checkObjectHeader`; the root's on creation, each other object's as the
///   profile walk reaches its link, before libhdf5 loads it): message and continuation bounds;
///   attribute messages whose name, datatype, dataspace and data must lie within the message,
///   whose datatype is one the profile reads, and whose variable-length strings point at
///   existing heap objects no larger than the length they declare (`H5O_attr_decode`,
///   `H5T__conv_vlen`, `H5HG_read`); symbol table messages, whose B-tree and symbol nodes must
///   lie within the file, carry their signatures and form a tree; link messages, which must
///   decode (`H5O__link_decode`: a group with one that does not crashes libhdf5 while it
///   releases its link table) with every field within the message; the messages `H5D_open`
///   decodes (dataspace, datatype, fill value, filter pipeline, external file list) and the
///   comment, whose names must be NUL-terminated and whose fields must lie within the message
///   (`checkDatasetMessage`); layout messages (`checkLayout`; virtual layouts are refused).
///
/// Structures are checked where metadata points, as libhdf5 reaches them, never by scanning
/// for signatures: tensor data may contain any bytes.
struct HDF5StructureCheck {
    let raw: HDF5RawFile
    /// Old-style groups' B-tree K values: from the superblock (versions 0, 1), or from the
    /// superblock extension's K message or libhdf5's defaults (leaf 4, internal 16; versions 2, 3).
    var groupLeafK = 0
    var groupInternalK = 0
    /// Chunk B-trees' K: the superblock's (version 1), the extension's, or libhdf5's default 32.
    var chunkInternalK = 32

    /// Checks the root group's object header, which libhdf5 loads while opening the file, and
    /// what it points to.
    ///
    /// - Throws: `.malformed` or `.refused` naming the structure's byte offset.
    init(raw: HDF5RawFile) throws {
        self.raw = raw
        guard [2, 4, 8].contains(raw.offsetSize), [2, 4, 8].contains(raw.lengthSize) else { return }
        (groupLeafK, groupInternalK) = (raw.groupLeafK, raw.groupInternalK)
        if raw.version == 1, let field = bytes(at: UInt64(raw.start + 24), count: 2) {
            chunkInternalK = Int(Self.integer(field))
        }
        if raw.version >= 2 {
            (groupLeafK, groupInternalK) = (4, 16)
            // Only a superblock whose checksum holds: libhdf5 refuses the others itself.
            let length = 12 + 4 * offsetSize
            if let superblock = bytes(at: UInt64(raw.start), count: length + 4),
               HDF5Checksum.lookup3(superblock[0..<length]) == UInt32(Self.integer(superblock[length...])) {
                let extensionAddress = Self.integer(superblock[(12 + offsetSize)..<(12 + 2 * offsetSize)])
                let undefined = offsetSize == 8 ? UInt64.max : (UInt64(1) << UInt64(8 * offsetSize)) - 1
                if extensionAddress != undefined {
                    try checkSuperblockExtension(address: extensionAddress)
                }
            }
        }
        if let root = rootAddress() {
            try checkObjectHeader(address: root, object: "/")
        }
    }

    var path: String { raw.path }
    var fileSize: Int { raw.size }
    var offsetSize: Int { raw.offsetSize }
    var lengthSize: Int { raw.lengthSize }

    /// `count` bytes at absolute file offset `offset`, or nil when the file ends first.
    func bytes(at offset: UInt64, count: Int) -> [UInt8]? {
        guard count >= 0, offset <= UInt64(fileSize), UInt64(count) <= UInt64(fileSize) - offset else { return nil }
        if count == 0 { return [] }
        let result = raw.bytes(at: Int(offset), count: count)
        return result.count == count ? result : nil
    }

    /// The absolute file offset of `address` (addresses count from the superblock), or nil
    /// when it overflows.
    func absolute(_ address: UInt64) -> UInt64? {
        let (sum, overflow) = address.addingReportingOverflow(UInt64(raw.start))
        return overflow ? nil : sum
    }

    /// A little-endian unsigned integer (at most 8 bytes are significant, as in libhdf5).
    static func integer<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    func malformed(_ object: String?, _ message: String) -> RNNFormatError {
        RNNFormatError(.malformed, file: path, object: object, message)
    }

    /// The root group's object header address from the superblock: in the root symbol table
    /// entry after four addresses (versions 0, 1), or after three (versions 2, 3).
    private func rootAddress() -> UInt64? {
        let at: Int
        switch raw.version {
        case 0: at = 24 + 5 * offsetSize
        case 1: at = 28 + 5 * offsetSize
        case 2, 3: at = 12 + 3 * offsetSize
        default: return nil
        }
        return bytes(at: UInt64(raw.start + at), count: offsetSize).map { Self.integer($0) }
    }

    /// The local heap at absolute offset `position`, walked as `H5HL__fl_deserialize` will.
    ///
    /// - Returns: the size of its data segment.
    @discardableResult
    func checkLocalHeap(at position: UInt64, object: String) throws -> UInt64 {
        func fail(_ message: String) -> RNNFormatError { malformed(object, "local heap at byte \(position): \(message)") }
        guard let header = bytes(at: position, count: 8 + 2 * lengthSize + offsetSize),
              header[0..<4].elementsEqual("HEAP".utf8) else {
            throw fail("no local heap there (signature HEAP missing or cut off by the end of the file)")
        }
        guard header[4] == 0 else { throw fail("version \(header[4]), expected 0") }
        let dataSize = Self.integer(header[8..<(8 + lengthSize)])
        var free = Self.integer(header[(8 + lengthSize)..<(8 + 2 * lengthSize)])
        // A heap whose data lies outside the file is refused by libhdf5 when it reads it.
        guard let data = absolute(Self.integer(header[(8 + 2 * lengthSize)...])),
              dataSize <= UInt64(fileSize), data <= UInt64(fileSize) - dataSize else {
            throw fail("its \(dataSize) bytes of data lie beyond the end of the file")
        }
        if dataSize > 0, let last = bytes(at: data + dataSize - 1, count: 1), last[0] != 0 {
            throw fail("its \(dataSize) bytes do not end in a NUL byte (names would run past the heap)")
        }
        var visited = Set<UInt64>()
        // libhdf5's end-of-free-list marker is 1 (H5HL_FREE_NULL).
        while free != 1 {
            guard free < dataSize else { return dataSize }  // libhdf5: "bad heap free list"
            guard free + UInt64(2 * lengthSize) <= dataSize else {
                throw fail("free block at \(free) ends beyond the heap's \(dataSize) bytes")
            }
            guard visited.insert(free).inserted else { throw fail("free list loops back to offset \(free)") }
            guard let block = bytes(at: data + free, count: 2 * lengthSize) else { return dataSize }
            let next = Self.integer(block[0..<lengthSize])
            let blockSize = Self.integer(block[lengthSize...])
            // libhdf5 refuses these itself.
            guard next != 0, blockSize <= dataSize, free + blockSize <= dataSize else { return dataSize }
            free = next
        }
        return dataSize
    }
}
