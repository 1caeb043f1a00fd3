/// The messages libhdf5 1.10 decodes while opening a dataset (`H5D_open`: dataspace,
/// datatype, fill value, filter pipeline, external file list) and the object comment, checked
/// field by field before it decodes them. Its decoders read these fields without comparing
/// them to the message's size, and `strdup` or `strlen` every name in them (compound and enum
/// member names, filter names, external file names): a name that is not NUL-terminated within
/// its message reads past libhdf5's buffer (found by tools/fuzz.sh: an enum of 32770 members
/// in a 40-byte datatype message). Layouts from the HDF5 File Format Specification, section IV.A.2.
extension HDF5StructureCheck {
    /// How deeply datatypes may nest (array of compound of enum ... ); libhdf5 recurses.
    private static let maxTypeDepth = 16

    /// Checks one dataset-related message; messages of other types pass.
    ///
    /// - Throws: `.malformed` naming the object, the message's byte offset and the field;
    ///   `.refused` for a shared (committed) datatype, dataspace, fill value or filter pipeline.
    func checkDatasetMessage(_ message: Message, object: String) throws {
        let kind: String
        switch message.type {
        case 0x0001: kind = "dataspace message"
        case 0x0003: kind = "datatype message"
        case 0x0004: kind = "old fill value message"
        case 0x0005: kind = "fill value message"
        case 0x0007: kind = "external file list message"
        case 0x000B: kind = "filter pipeline message"
        case 0x000D: kind = "comment message"
        default: return
        }
        if message.flags & 0x02 != 0 && [0x0001, 0x0003, 0x0005, 0x000B].contains(message.type) {
            // The message names another object's header, which libhdf5 would load unchecked.
            throw RNNFormatError(.refused, file: path, object: object,
                                 "\(kind) stored as a shared message refused (the profile allows messages in the object header only)")
        }
        var cursor = MessageCursor(message.data) { [self] in malformed(object, "\(kind) at byte \(message.position): \($0)") }
        switch message.type {
        case 0x0001: try checkDataspace(&cursor)
        case 0x0003: try checkDatatype(&cursor, depth: 0)
        case 0x0004:
            let size = try cursor.integer(4, "fill value size")
            _ = try cursor.take(size, "fill value")
        case 0x0005: try checkFillValue(&cursor)
        case 0x0007: try checkExternalFileList(&cursor, object: object)
        case 0x000B: try checkFilterPipeline(&cursor)
        default: _ = try cursor.name("comment", padding: 1)  // H5O__name_decode: strdup
        }
    }

    /// `H5O_sdspace_decode`: version 1 or 2, rank at most 32, dimensions and maximum
    /// dimensions within the message.
    private func checkDataspace(_ c: inout MessageCursor) throws {
        let version = try c.byte("version")
        guard version == 1 || version == 2 else { throw c.fail("version \(version), expected 1 or 2") }
        let rank = try c.byte("rank")
        guard rank <= 32 else { throw c.fail("rank \(rank), at most 32 allowed") }
        let flags = try c.byte("flags")
        _ = try c.take(version == 1 ? 5 : 1, version == 1 ? "reserved bytes" : "dataspace type")
        _ = try c.take(UInt64(rank) * UInt64(lengthSize), "\(rank) dimensions")
        if flags & 0x01 != 0 { _ = try c.take(UInt64(rank) * UInt64(lengthSize), "\(rank) maximum dimensions") }
    }

    /// `H5O_dtype_decode_helper`, recursively: versions 1 to 3, each class's properties, every
    /// compound and enum member name NUL-terminated within the message (padded to 8 bytes
    /// before version 3), member offsets, enum values, opaque tags and array dimensions within
    /// the message.
    private func checkDatatype(_ c: inout MessageCursor, depth: Int) throws {
        guard depth <= Self.maxTypeDepth else { throw c.fail("datatype nested more than \(Self.maxTypeDepth) levels deep") }
        let header = try c.take(8, "datatype header")
        let s = header.startIndex
        let cls = header[s] & 0x0F, version = header[s] >> 4
        guard (1...3).contains(version) else { throw c.fail("datatype version \(version), expected 1 to 3") }
        let bits = Self.integer(header[(s + 1)..<(s + 4)])
        let size = Self.integer(header[(s + 4)..<(s + 8)])
        let padding = version >= 3 ? 1 : 8
        switch cls {
        case 0, 4: _ = try c.take(4, "bit offset and precision")  // integer, bitfield
        case 1: _ = try c.take(12, "floating-point properties")
        case 2: _ = try c.take(2, "time precision")
        case 3, 7: break  // string, reference
        case 5: _ = try c.take(bits & 0xFF, "opaque tag")
        case 6:
            let members = Int(bits & 0xFFFF)
            guard members > 0 else { throw c.fail("compound of 0 members") }
            // Version 3 stores each member's offset in as few bytes as the type's size needs.
            var offsetBytes: UInt64 = 4
            if version >= 3 { offsetBytes = UInt64((63 - max(size, 1).leadingZeroBitCount) / 8 + 1) }
            for index in 0..<members {
                let label = "compound member \(index) of \(members)"
                _ = try c.name("\(label): name", padding: padding)
                _ = try c.take(offsetBytes, "\(label): offset")
                if version == 1 {
                    let dims = try c.byte("\(label): dimensionality")
                    guard dims <= 4 else { throw c.fail("\(label): \(dims) array dimensions, at most 4 allowed") }
                    _ = try c.take(27, "\(label): array dimensions")
                }
                try checkDatatype(&c, depth: depth + 1)
            }
        case 8:
            let members = UInt64(bits & 0xFFFF)
            let baseStart = c.at
            try checkDatatype(&c, depth: depth + 1)
            let baseSize = Self.integer(c.data[(baseStart + 4)..<(baseStart + 8)])
            for index in 0..<members {
                _ = try c.name("enum member \(index) of \(members): name", padding: padding)
            }
            _ = try c.take(members * baseSize, "enum values (\(members) of \(baseSize) bytes)")
        case 9: try checkDatatype(&c, depth: depth + 1)
        case 10:
            let dims = try c.byte("array dimensionality")
            guard dims <= 32 else { throw c.fail("array of \(dims) dimensions, at most 32 allowed") }
            if version < 3 { _ = try c.take(3, "array reserved bytes") }
            _ = try c.take(UInt64(dims) * (version < 3 ? 8 : 4), "\(dims) array dimensions")
            try checkDatatype(&c, depth: depth + 1)
        default:
            throw c.fail("datatype class \(cls), expected 0 to 10")
        }
    }

    /// `H5O_fill_new_decode`: versions 1 to 3, known flags, and a defined fill value's bytes
    /// within the message.
    private func checkFillValue(_ c: inout MessageCursor) throws {
        let version = try c.byte("version")
        guard (1...3).contains(version) else { throw c.fail("version \(version), expected 1 to 3") }
        let defined: Bool
        if version < 3 {
            _ = try c.take(2, "allocation and write times")
            defined = try c.byte("fill value defined") != 0
        } else {
            let flags = try c.byte("flags")
            guard flags & ~0x3F == 0 else { throw c.fail("flags 0x\(String(flags, radix: 16)), expected only bits 0x3f") }
            defined = flags & 0x20 != 0
        }
        guard defined else { return }
        let size = try c.integer(4, "fill value size")
        guard size < 1 << 31 else { return }  // negative: libhdf5 copies nothing
        _ = try c.take(size, "fill value")
    }

    /// `H5O__efl_decode`: version 1, slots in use no more than allocated (libhdf5 writes
    /// `nused` slots into an array of `nalloc`), each slot within the message and its name at
    /// an offset within the local heap (which must end in a NUL byte).
    private func checkExternalFileList(_ c: inout MessageCursor, object: String) throws {
        let version = try c.byte("version")
        guard version == 1 else { throw c.fail("version \(version), expected 1") }
        _ = try c.take(3, "reserved bytes")
        let allocated = try c.integer(2, "slots allocated"), used = try c.integer(2, "slots used")
        guard allocated > 0, used <= allocated else { throw c.fail("\(used) slots used of \(allocated) allocated") }
        let heap = try c.integer(offsetSize, "local heap address")
        guard let at = absolute(heap) else { throw c.fail("local heap address \(heap) overflows") }
        let heapSize = try checkLocalHeap(at: at, object: object)
        for index in 0..<used {
            let name = try c.integer(lengthSize, "slot \(index): name offset")
            guard name < heapSize else { throw c.fail("slot \(index): name at offset \(name), beyond the \(heapSize)-byte local heap") }
            _ = try c.take(UInt64(2 * lengthSize), "slot \(index): file offset and size")
        }
    }

    /// `H5O_pline_decode`: version 1 or 2, at most 32 filters, each one's name NUL-terminated
    /// within its declared length (a multiple of 8 in version 1) and its client data values
    /// within the message.
    private func checkFilterPipeline(_ c: inout MessageCursor) throws {
        let version = try c.byte("version")
        guard version == 1 || version == 2 else { throw c.fail("version \(version), expected 1 or 2") }
        let filters = try c.byte("number of filters")
        guard filters <= 32 else { throw c.fail("\(filters) filters, at most 32 allowed") }
        if version == 1 { _ = try c.take(6, "reserved bytes") }
        for index in 0..<filters {
            let label = "filter \(index) of \(filters)"
            let id = try c.integer(2, "\(label): id")
            var nameLength: UInt64 = 0
            if version == 1 || id >= 256 {
                nameLength = try c.integer(2, "\(label): name length")
                guard version > 1 || nameLength % 8 == 0 else { throw c.fail("\(label): name length \(nameLength), expected a multiple of 8") }
            }
            _ = try c.take(2, "\(label): flags")
            let values = try c.integer(2, "\(label): number of client data values")
            if nameLength > 0 {
                let name = try c.take(nameLength, "\(label): name")
                guard name.contains(0) else { throw c.fail("\(label): name of \(nameLength) bytes is not NUL-terminated") }
            }
            let padded = version == 1 && values % 2 == 1 ? values + 1 : values
            _ = try c.take(4 * padded, "\(label): \(values) client data values")
        }
    }
}

/// Reads a message's fields in order, failing with the field's name when one runs past the
/// message.
struct MessageCursor {
    let data: [UInt8]
    /// Offset of the next field.
    private(set) var at = 0
    let fail: (String) -> RNNFormatError

    init(_ data: [UInt8], fail: @escaping (String) -> RNNFormatError) {
        self.data = data
        self.fail = fail
    }

    /// The next `count` bytes.
    mutating func take(_ count: UInt64, _ field: String) throws -> ArraySlice<UInt8> {
        guard count <= UInt64(data.count - at) else {
            throw fail("\(field) of \(count) bytes runs past the message (\(data.count - at) of \(data.count) bytes left)")
        }
        defer { at += Int(count) }
        return data[at..<(at + Int(count))]
    }

    mutating func byte(_ field: String) throws -> UInt8 { UInt8(HDF5StructureCheck.integer(try take(1, field))) }

    /// A little-endian unsigned integer of `count` bytes.
    mutating func integer(_ count: Int, _ field: String) throws -> UInt64 {
        HDF5StructureCheck.integer(try take(UInt64(count), field))
    }

    /// A NUL-terminated name (without its NUL), which with its NUL occupies a multiple of
    /// `padding` bytes, all within the message (libhdf5 `strdup`s it, then skips the padding).
    mutating func name(_ field: String, padding: Int) throws -> ArraySlice<UInt8> {
        guard let nul = data[at...].firstIndex(of: 0) else {
            throw fail("\(field) is not NUL-terminated within the message (\(data.count - at) of \(data.count) bytes left)")
        }
        let length = nul - at + 1
        let padded = (length + padding - 1) / padding * padding
        guard padded <= data.count - at else {
            throw fail("\(field) of \(length) bytes padded to \(padded) runs past the message (\(data.count - at) of \(data.count) bytes left)")
        }
        defer { at += padded }
        return data[at..<nul]
    }
}
