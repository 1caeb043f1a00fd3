/// Little-endian reads through one block of HDF5 metadata, each checked against the block's end.
///
/// HDF5 stores addresses in `offsetSize` bytes and lengths in `lengthSize` bytes (superblock), and
/// every multi-byte number little-endian. A read past the end throws the error `overrun` makes,
/// naming the field, so a structure that claims more bytes than it has is reported, never read
/// past.
struct HDF5Cursor {
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int
    let offsetSize: Int
    let lengthSize: Int
    /// Makes the error for a field that does not fit (its name is passed).
    let overrun: (String) -> RNNFormatError

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil, offsetSize: Int, lengthSize: Int,
         overrun: @escaping (String) -> RNNFormatError) {
        self.bytes = bytes
        self.position = min(max(start, 0), bytes.count)
        self.end = min(max(end ?? bytes.count, position), bytes.count)
        self.offsetSize = offsetSize
        self.lengthSize = lengthSize
        self.overrun = overrun
    }

    /// A cursor over `count` bytes from here (a nested structure), advancing this one past them.
    mutating func sub(_ count: Int, _ field: String) throws -> HDF5Cursor {
        try need(count, field)
        let nested = HDF5Cursor(bytes, from: position, to: position + count, offsetSize: offsetSize,
                                lengthSize: lengthSize, overrun: overrun)
        position += count
        return nested
    }

    var remaining: Int { end - position }
    var isAtEnd: Bool { position >= end }

    func need(_ count: Int, _ field: String) throws {
        guard count >= 0, count <= end - position else { throw overrun(field) }
    }

    mutating func skip(_ count: Int, _ field: String) throws {
        try need(count, field)
        position += count
    }

    /// Moves to `offset` within the block (not past its end).
    mutating func seek(to offset: Int, _ field: String) throws {
        guard offset >= 0, offset <= end else { throw overrun(field) }
        position = offset
    }

    mutating func u8(_ field: String) throws -> UInt8 {
        try need(1, field)
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16(_ field: String) throws -> UInt16 { UInt16(try uint(2, field)) }
    mutating func u32(_ field: String) throws -> UInt32 { UInt32(try uint(4, field)) }
    mutating func u64(_ field: String) throws -> UInt64 { try uint(8, field) }

    /// An unsigned little-endian number of `width` bytes (0 to 8).
    mutating func uint(_ width: Int, _ field: String) throws -> UInt64 {
        guard (0...8).contains(width) else { throw overrun(field) }
        try need(width, field)
        var value: UInt64 = 0
        for i in (0..<width).reversed() { value = value << 8 | UInt64(bytes[position + i]) }
        position += width
        return value
    }

    /// A number of `width` bytes that must fit an `Int`.
    mutating func int(_ width: Int, _ field: String) throws -> Int {
        let value = try uint(width, field)
        guard value <= UInt64(Int.max) else { throw overrun(field) }
        return Int(value)
    }

    /// An address (`offsetSize` bytes); nil for the undefined address (all bits set).
    mutating func address(_ field: String) throws -> UInt64? {
        let value = try uint(offsetSize, field)
        return value == HDF5Cursor.undefined(offsetSize) ? nil : value
    }

    /// A length (`lengthSize` bytes) that fits an `Int`.
    mutating func length(_ field: String) throws -> Int {
        try int(lengthSize, field)
    }

    mutating func take(_ count: Int, _ field: String) throws -> ArraySlice<UInt8> {
        try need(count, field)
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    /// Checks a 4-byte signature such as `TREE`; returns false (not advancing) when it differs.
    mutating func signature(_ expected: String) throws -> Bool {
        let pattern = Array(expected.utf8)
        try need(pattern.count, "signature")
        guard bytes[position..<(position + pattern.count)].elementsEqual(pattern) else { return false }
        position += pattern.count
        return true
    }

    /// The undefined address of `width` bytes.
    static func undefined(_ width: Int) -> UInt64 {
        width >= 8 ? UInt64.max : (UInt64(1) << UInt64(8 * width)) - 1
    }
}

extension Array where Element == UInt8 {
    /// Little-endian unsigned number of `width` bytes at `offset` (the caller checked the range).
    func littleEndian(at offset: Int, width: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in (0..<width).reversed() { value = value << 8 | UInt64(self[offset + i]) }
        return value
    }
}
