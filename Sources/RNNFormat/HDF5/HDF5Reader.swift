/// One HDF5 file being read: its source, its superblock, bounded metadata reads, and the errors
/// that name the source.
///
/// This is the bottom layer of RNNKit's own HDF5 reader (no libhdf5 is involved in reading).
/// Structures are found by following the file's addresses from the superblock, never by scanning
/// for signatures; every address and length from the file is checked against the file's size
/// before anything is read or allocated, and all metadata reads together are capped
/// (`HDF5ProfileLimits.maxMetadataBytes`). Layouts follow the HDF5 File Format Specification
/// version 3 (https://support.hdfgroup.org/documentation/hdf5/latest/_f_m_t3.html).
final class HDF5Reader {
    let source: ByteSource
    /// Where the superblock starts in the source (0, or 512, 1024, ... after a user block). Every
    /// address in the file counts from here, as libhdf5 counts them.
    let base: Int
    let superblockVersion: Int
    let offsetSize: Int
    let lengthSize: Int
    /// The root group's object header.
    let rootAddress: UInt64
    /// Old-style groups: symbol table nodes hold at most 2 x `groupLeafK` entries, their B-tree
    /// nodes at most 2 x `groupInternalK` children (superblocks 0 and 1 store both; later
    /// superblocks keep them in an extension this reader does not need, so any count passes).
    let groupLeafK: Int
    let groupInternalK: Int
    /// Metadata bytes read so far.
    private(set) var metadataBytes = 0
    /// Global heap collections already read (variable-length strings), by address.
    var globalHeaps: [UInt64: HDF5GlobalHeap] = [:]

    var name: String { source.name }

    /// Finds and checks the superblock.
    ///
    /// - Throws: `.notRecognized` without a signature, `.truncated` when the superblock is cut
    ///   off or declares more bytes than the source holds, `.malformed` / `.unsupportedVersion`
    ///   for a superblock this reader cannot read.
    init(source: ByteSource) throws {
        self.source = source
        let size = source.size
        var start = 0
        while try source.readPrefix(at: start, maxCount: 8) != HDF5Layout.signature {
            start = start == 0 ? 512 : start * 2
            guard start <= size - 8 else {
                throw RNNFormatError(.notRecognized, file: source.name, "not an HDF5 file (no signature at 0, 512, 1024, ...)")
            }
        }
        base = start
        let head = try source.readPrefix(at: start, maxCount: 256)
        func truncated() -> RNNFormatError {
            RNNFormatError(.truncated, file: source.name, "file is truncated: it ends inside the HDF5 superblock (\(size) bytes)")
        }
        guard head.count > 9 else { throw truncated() }
        superblockVersion = Int(head[8])
        var cursor = HDF5Cursor(head, from: 9, offsetSize: 8, lengthSize: 8, overrun: { _ in truncated() })
        let storedBase: UInt64
        let eof: UInt64
        switch superblockVersion {
        case 0, 1:
            let versions = try cursor.take(4, "versions")  // free space, root entry, reserved, shared header
            guard versions.elementsEqual([0, 0, 0, 0]) else {
                throw RNNFormatError(.malformed, file: source.name, "damaged superblock: free-space, root entry and shared header versions \(Array(versions)) (expected 0)")
            }
            offsetSize = Int(try cursor.u8("size of offsets"))
            lengthSize = Int(try cursor.u8("size of lengths"))
            try Self.checkSizes(offsetSize, lengthSize, file: source.name)
            try cursor.skip(1, "reserved byte")
            groupLeafK = Int(try cursor.u16("group leaf node K"))
            groupInternalK = Int(try cursor.u16("group internal node K"))
            try cursor.skip(4, "file consistency flags")
            if superblockVersion == 1 { try cursor.skip(4, "indexed storage K") }
            cursor = HDF5Cursor(head, from: cursor.position, offsetSize: offsetSize, lengthSize: lengthSize, overrun: { _ in truncated() })
            storedBase = try cursor.uint(offsetSize, "base address")
            _ = try cursor.address("free-space address")
            eof = try cursor.uint(offsetSize, "end-of-file address")
            _ = try cursor.address("driver information address")
            // The root group's symbol table entry: name offset, then its object header.
            _ = try cursor.uint(offsetSize, "root link name offset")
            guard let root = try cursor.address("root object header address") else {
                throw RNNFormatError(.malformed, file: source.name, object: "/", "damaged superblock: the root group has no object header address")
            }
            rootAddress = root
        case 2, 3:
            offsetSize = Int(try cursor.u8("size of offsets"))
            lengthSize = Int(try cursor.u8("size of lengths"))
            try Self.checkSizes(offsetSize, lengthSize, file: source.name)
            try cursor.skip(1, "file consistency flags")
            groupLeafK = Int(UInt16.max) / 2
            groupInternalK = Int(UInt16.max) / 2
            cursor = HDF5Cursor(head, from: cursor.position, offsetSize: offsetSize, lengthSize: lengthSize, overrun: { _ in truncated() })
            storedBase = try cursor.uint(offsetSize, "base address")
            _ = try cursor.address("superblock extension address")
            eof = try cursor.uint(offsetSize, "end-of-file address")
            guard let root = try cursor.address("root object header address") else {
                throw RNNFormatError(.malformed, file: source.name, object: "/", "damaged superblock: the root group has no object header address")
            }
            rootAddress = root
            let checked = cursor.position
            let stored = try cursor.u32("superblock checksum")
            let computed = HDF5Checksum.lookup3(head[0..<checked])
            guard stored == computed else {
                throw RNNFormatError(.malformed, file: source.name,
                                     "damaged superblock: checksum \(hex(stored)) stored, the bytes give \(hex(computed))")
            }
        default:
            throw RNNFormatError(.unsupportedVersion, file: source.name, "HDF5 superblock version \(superblockVersion) (this reader reads versions 0 to 3)")
        }
        // libhdf5 takes the superblock's own position as the base address and moves the stored
        // end-of-file address with it; that address counts from the start of the source.
        let undefined = HDF5Cursor.undefined(offsetSize)
        if eof != undefined {
            // Wrapping, as libhdf5's unsigned arithmetic: a base address past the superblock
            // makes a huge end of file, which is then too large.
            let declared = eof &+ UInt64(start) &- storedBase
            guard declared <= UInt64(size) else {
                throw RNNFormatError(.truncated, file: source.name, "file is truncated: the HDF5 superblock declares \(declared) bytes, the file holds \(size)")
            }
        }
    }

    private static func checkSizes(_ offsets: Int, _ lengths: Int, file: String) throws {
        guard [2, 4, 8].contains(offsets), [2, 4, 8].contains(lengths) else {
            throw RNNFormatError(.malformed, file: file, "damaged superblock: sizes of offsets and lengths \(offsets) and \(lengths) (expected 2, 4 or 8 each)")
        }
    }

    // MARK: Reading metadata

    /// The source offset of `address`, when `count` bytes from there lie within the source.
    func offset(of address: UInt64, count: Int) -> Int? {
        guard count >= 0, address <= UInt64(source.size), let start = Int(exactly: address),
              start <= source.size - base, count <= source.size - base - start
        else { return nil }
        return base + start
    }

    /// Reads `count` bytes of metadata at `address`, counting them against the metadata cap.
    ///
    /// - Parameters:
    ///   - what: the structure, for messages ("object header", "B-tree node").
    ///   - object: the object being read, for messages.
    /// - Throws: `.malformed` when the range leaves the file, `.refused` past the metadata cap.
    func metadata(at address: UInt64, count: Int, _ what: String, object: String) throws -> [UInt8] {
        guard let start = offset(of: address, count: count) else {
            throw damaged(what, at: address, object: object, "\(count) bytes from there run past the end of the file (\(source.size - base) bytes of HDF5 data)")
        }
        guard count <= HDF5ProfileLimits.maxMetadataBytes - metadataBytes else {
            throw RNNFormatError(.refused, file: name, object: object,
                                 "more than \(HDF5ProfileLimits.maxMetadataBytes) bytes of HDF5 metadata (object headers, B-trees, heaps)")
        }
        metadataBytes += count
        return try source.read(at: start, count: count)
    }

    /// Reads up to `count` bytes at `address`, fewer where the file ends (for structures whose
    /// length is known only after their first fields).
    func metadataPrefix(at address: UInt64, count: Int, _ what: String, object: String) throws -> [UInt8] {
        guard let start = offset(of: address, count: 0) else {
            throw damaged(what, at: address, object: object, "the address lies beyond the end of the file (\(source.size - base) bytes of HDF5 data)")
        }
        return try metadata(at: address, count: min(count, source.size - start), what, object: object)
    }

    /// A cursor over `bytes` whose overruns are reported as damage to `what` at `address`.
    func cursor(_ bytes: [UInt8], _ what: String, at address: UInt64?, object: String, from start: Int = 0, to end: Int? = nil) -> HDF5Cursor {
        HDF5Cursor(bytes, from: start, to: end, offsetSize: offsetSize, lengthSize: lengthSize) { [name] field in
            let place = address.map { " at byte \($0)" } ?? ""
            return RNNFormatError(.malformed, file: name, object: object, "damaged \(what)\(place): it ends inside its \(field)")
        }
    }

    /// Checks a block's trailing lookup3 checksum (over everything before it).
    func verifyChecksum(_ bytes: [UInt8], end: Int, _ what: String, at address: UInt64, object: String) throws {
        guard end >= 4, end <= bytes.count else { throw damaged(what, at: address, object: object, "too short for its checksum") }
        let stored = UInt32(bytes.littleEndian(at: end - 4, width: 4))
        let computed = HDF5Checksum.lookup3(bytes[0..<(end - 4)])
        guard stored == computed else {
            throw damaged(what, at: address, object: object, "checksum \(hex(stored)) stored, the bytes give \(hex(computed))")
        }
    }

    // MARK: Errors

    /// A structure that is not what the format allows.
    func damaged(_ what: String, at address: UInt64?, object: String, _ detail: String) -> RNNFormatError {
        let place = address.map { " at byte \($0)" } ?? ""
        return RNNFormatError(.malformed, file: name, object: object, "damaged \(what)\(place): \(detail)")
    }

    /// Something the restricted profile refuses.
    func refused(_ object: String, _ message: String) -> RNNFormatError {
        RNNFormatError(.refused, file: name, object: object, message)
    }
}

/// `0x0000abcd` for messages: lowercase hex digits, zero-padded to the type's width.
func hex<T: FixedWidthInteger>(_ value: T) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, T.bitWidth / 4 - digits.count)) + digits
}
