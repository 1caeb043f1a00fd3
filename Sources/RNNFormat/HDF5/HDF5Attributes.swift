/// An attribute value as the reader understands it: the shapes h5py and our writer produce.
enum HDF5AttributeValue: Equatable, Sendable {
    /// Any integer class and width, as Int64; a scalar attribute gives one element.
    case integers([Int64])
    /// Any IEEE float width, as Double.
    case floats([Double])
    /// Fixed-length or variable-length strings.
    case strings([String])
    /// h5py's bool: an enum of int8 with members FALSE = 0 and TRUE = 1.
    case bools([Bool])
    /// Another enum, by member name.
    case enumNames([String])

    /// The value when it is one string.
    var string: String? {
        if case .strings(let s) = self, s.count == 1 { return s[0] }
        return nil
    }

    /// The value when it is one integer.
    var integer: Int64? {
        if case .integers(let v) = self, v.count == 1 { return v[0] }
        return nil
    }

    /// The value when it is one float or integer.
    var number: Double? {
        switch self {
        case .floats(let v) where v.count == 1: v[0]
        case .integers(let v) where v.count == 1: Double(v[0])
        default: nil
        }
    }

    /// The value when it is one bool: h5py's bool, or an integer 0 or 1.
    var bool: Bool? {
        switch self {
        case .bools(let v) where v.count == 1: v[0]
        case .integers(let v) where v.count == 1 && (v[0] == 0 || v[0] == 1): v[0] == 1
        default: nil
        }
    }

    /// What the value is, for messages.
    var summary: String {
        func many(_ n: Int, _ what: String) -> String { "\(n) \(what)" }
        switch self {
        case .integers(let v): return v.count == 1 ? "integer \(v[0])" : many(v.count, "integers")
        case .floats(let v): return v.count == 1 ? "float \(v[0])" : many(v.count, "floats")
        case .strings(let s):
            guard s.count == 1 else { return many(s.count, "strings") }
            return "string " + (s[0].count > 40 ? String(s[0].prefix(40)) + "..." : s[0]).debugDescription
        case .bools(let v): return v.count == 1 ? "bool \(v[0])" : many(v.count, "bools")
        case .enumNames(let v): return v.count == 1 ? "enum member \(v[0])" : many(v.count, "enum members")
        }
    }
}

/// One attribute of an object: name, shape and value, read and checked.
struct HDF5Attribute: Equatable, Sendable {
    var name: String
    /// Empty for a scalar.
    var shape: [Int]
    var value: HDF5AttributeValue
}

/// Caps on attributes (spec/FORMAT.md "Security"): libhdf5's compact attribute storage holds
/// at most 64 KiB, so no honest attribute is larger.
package enum HDF5AttributeLimits {
    package static let maxBytes = 64 * 1024
    package static let maxElements = 16 * 1024
    package static let maxPerObject = 256
    package static let maxEnumMembers = 1024
}

extension HDF5Reader {
    /// Every attribute of an object, compact or dense, decoded and checked against the caps.
    ///
    /// - Throws: `.refused` beyond the caps or for shared attribute parts, `.unsupportedType` for
    ///   classes other than integer, float, string and enum, `.malformed` for damage.
    func attributes(of header: HDF5ObjectHeader, object: String) throws -> [HDF5Attribute] {
        var messages = header.messages(.attribute).map { ($0.data, $0.address, $0.isShared) }
        if let info = try header.single(.attributeInfo, reader: self, object: object) {
            var cursor = cursor(info.data, "attribute info message", at: info.address, object: object)
            let version = try cursor.u8("version")
            guard version == 0 else { throw damaged("attribute info message", at: info.address, object: object, "version \(version) (expected 0)") }
            let flags = try cursor.u8("flags")
            if flags & 0x01 != 0 { try cursor.skip(2, "maximum creation index") }
            if let heapAddress = try cursor.address("fractal heap address") {
                guard let indexAddress = try cursor.address("name index address") else {
                    throw damaged("attribute info message", at: info.address, object: object, "a dense attribute heap without its name index")
                }
                let dense = try denseMessages(heap: heapAddress, index: indexAddress, type: .attributeName, limit: HDF5AttributeLimits.maxPerObject, object: object,
                                              tooMany: { self.refused(object, "expected at most \(HDF5AttributeLimits.maxPerObject) attributes, found \($0)") }) { record, idLength in
                    // Record: heap ID (8 bytes), message flags, creation order (4), name hash (4).
                    guard record.count == 17, idLength == 8 else {
                        throw self.damaged("attribute name index", at: indexAddress, object: object, "records of \(record.count) bytes for heap IDs of \(idLength)")
                    }
                    guard record[8] & 0x02 == 0 else {
                        throw self.refused(object, "shared attribute message refused (stored in the file's shared message table)")
                    }
                    return 0..<8
                }
                messages += dense.map { ($0, heapAddress, false) }
            }
        }
        guard messages.count <= HDF5AttributeLimits.maxPerObject else {
            throw refused(object, "expected at most \(HDF5AttributeLimits.maxPerObject) attributes, found \(messages.count)")
        }
        var attributes: [HDF5Attribute] = []
        var names: Set<String> = []
        for (data, address, shared) in messages {
            guard !shared else { throw refused(object, "shared attribute message refused (stored in the file's shared message table)") }
            let attribute = try attribute(data, at: address, object: object)
            guard names.insert(attribute.name).inserted else {
                throw damaged("attribute message", at: address, object: object, "a second attribute named \(attribute.name.debugDescription)")
            }
            attributes.append(attribute)
        }
        return attributes.sorted { $0.name < $1.name }
    }

    /// Decodes one attribute message (versions 1 to 3) and its value.
    func attribute(_ data: [UInt8], at address: UInt64, object: String) throws -> HDF5Attribute {
        let what = "attribute message"
        func damaged(_ detail: String) -> RNNFormatError { self.damaged(what, at: address, object: object, detail) }
        var cursor = cursor(data, what, at: address, object: object)
        let version = try cursor.u8("version")
        guard (1...3).contains(version) else { throw damaged("version \(version) (expected 1 to 3)") }
        let flags = try cursor.u8(version == 1 ? "reserved byte" : "flags")
        let nameSize = Int(try cursor.u16("name size"))
        let typeSize = Int(try cursor.u16("datatype size"))
        let spaceSize = Int(try cursor.u16("dataspace size"))
        if version == 3 { try cursor.skip(1, "name character set") }
        func padded(_ n: Int) -> Int { version == 1 ? (n + 7) / 8 * 8 : n }
        guard nameSize >= 1, nameSize - 1 <= HDF5ProfileLimits.maxNameBytes else {
            throw refused(object, "attribute name of \(max(0, nameSize - 1)) bytes (1 to \(HDF5ProfileLimits.maxNameBytes) allowed)")
        }
        let rawName = Array(try cursor.take(nameSize, "name"))
        try cursor.skip(padded(nameSize) - nameSize, "name padding")
        guard rawName.last == 0, !rawName.dropLast().contains(0) else { throw damaged("a name that is not one NUL-terminated string") }
        let name = String(decoding: rawName.dropLast(), as: UTF8.self)
        guard !name.isEmpty, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw refused(object, "attribute name \(name.debugDescription) refused (empty or with control characters)")
        }
        if version > 1 && flags & 0x03 != 0 {
            throw refused(object, "attribute \(name) uses a shared (committed) datatype or dataspace, refused")
        }
        guard flags & ~0x03 == 0 || version == 1 else { throw damaged("attribute \(name): unknown flags \(hex(flags))") }
        var typeCursor = try cursor.sub(typeSize, "datatype")
        try cursor.skip(padded(typeSize) - typeSize, "datatype padding")
        let type = try HDF5Datatype(&typeCursor, reader: self, at: address, object: object)
        let spaceBytes = Array(try cursor.take(spaceSize, "dataspace"))
        try cursor.skip(padded(spaceSize) - spaceSize, "dataspace padding")
        let space = try HDF5Dataspace(spaceBytes, reader: self, at: address, object: object)
        guard let count = space.elementCount(), count <= HDF5AttributeLimits.maxElements else {
            throw refused(object, "attribute \(name) holds \(space.dims) elements (at most \(HDF5AttributeLimits.maxElements) allowed)")
        }
        let elementSize = type.size(self)
        guard count * elementSize <= HDF5AttributeLimits.maxBytes else {
            throw refused(object, "attribute \(name) stores \(count * elementSize) bytes (at most \(HDF5AttributeLimits.maxBytes) allowed)")
        }
        guard space.kind != .null else {
            throw RNNFormatError(.invalidAttribute, file: self.name, object: object, "attribute \(name): expected a value, found an empty (null) dataspace")
        }
        let raw = Array(try cursor.take(count * elementSize, "value of attribute \(name)"))
        let value = try attributeValue(raw, type: type, count: count, name: name, at: address, object: object)
        return HDF5Attribute(name: name, shape: space.kind == .scalar ? [] : space.dims, value: value)
    }

    private func attributeValue(_ raw: [UInt8], type: HDF5Datatype, count: Int, name: String, at address: UInt64, object: String) throws -> HDF5AttributeValue {
        switch type {
        case .integer(let size, let signed, let bigEndian):
            var values: [Int64] = []
            for i in 0..<count {
                guard let value = HDF5Numbers.integer(raw, at: i * size, size: size, signed: signed, bigEndian: bigEndian) else {
                    throw RNNFormatError(.unsupportedType, file: self.name, object: object, "attribute \(name): an unsigned integer beyond 2^63 - 1")
                }
                values.append(value)
            }
            return .integers(values)
        case .float(let size, let bigEndian):
            return .floats((0..<count).map { HDF5Numbers.double(raw, at: $0 * size, size: size, bigEndian: bigEndian) })
        case .string(let size, let padding):
            return .strings((0..<count).map { i in HDF5Numbers.fixedString(raw[(i * size)..<((i + 1) * size)], padding: padding) })
        case .variableString:
            let stride = type.size(self)
            return .strings(try (0..<count).map { i in
                try variableString(raw, at: i * stride, attribute: name, object: object)
            })
        case .enumeration(let base, let names, let values):
            let size = base.size(self)
            guard case .integer(_, let signed, let bigEndian) = base else { break }
            var members: [String] = []
            for i in 0..<count {
                guard let value = HDF5Numbers.integer(raw, at: i * size, size: size, signed: signed, bigEndian: bigEndian),
                      let index = values.firstIndex(of: value)
                else {
                    throw RNNFormatError(.invalidAttribute, file: self.name, object: object, "attribute \(name): a value that is no member of its enum")
                }
                members.append(names[index])
            }
            if Set(names) == ["FALSE", "TRUE"] && names.count == 2 && size == 1 {
                return .bools(members.map { $0 == "TRUE" })
            }
            return .enumNames(members)
        case .other, .otherFloat:
            break
        }
        throw RNNFormatError(.unsupportedType, file: self.name, object: object,
                             "attribute \(name): expected an integer, float, string or bool, found \(type.description)")
    }

    /// A variable-length string: its length, then the global heap collection and object holding it.
    private func variableString(_ raw: [UInt8], at offset: Int, attribute: String, object: String) throws -> String {
        let length = Int(raw.littleEndian(at: offset, width: 4))
        let collection = raw.littleEndian(at: offset + 4, width: offsetSize)
        let index = raw.littleEndian(at: offset + 4 + offsetSize, width: 4)
        guard length > 0 else { return "" }
        guard length <= HDF5AttributeLimits.maxBytes else {
            throw refused(object, "attribute \(attribute): string of \(length) bytes (at most \(HDF5AttributeLimits.maxBytes) allowed)")
        }
        let heap: HDF5GlobalHeap
        if let cached = globalHeaps[collection] {
            heap = cached
        } else {
            heap = try HDF5GlobalHeap(reader: self, at: collection, object: object)
            globalHeaps[collection] = heap
        }
        guard let range = heap.objects[index], range.count >= length else {
            throw damaged("global heap collection", at: collection, object: object,
                          "attribute \(attribute) names object \(index) of \(length) bytes, which the collection does not hold")
        }
        let bytes = heap.data[range.lowerBound..<(range.lowerBound + length)]
        // libhdf5 hands strings out NUL-terminated: h5py's value ends at the first NUL.
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}

/// A global heap collection (HDF5 spec III.E), where variable-length strings live: its bytes and
/// each object's range in them. The objects must tile the collection exactly.
struct HDF5GlobalHeap {
    let data: [UInt8]
    let objects: [UInt64: Range<Int>]

    init(reader: HDF5Reader, at address: UInt64, object: String) throws {
        let what = "global heap collection"
        let head = try reader.metadata(at: address, count: 8 + reader.lengthSize, what, object: object)
        var cursor = reader.cursor(head, what, at: address, object: object)
        guard try cursor.signature("GCOL") else { throw reader.damaged(what, at: address, object: object, "no GCOL signature") }
        let version = try cursor.u8("version")
        guard version == 1 else { throw reader.damaged(what, at: address, object: object, "version \(version) (expected 1)") }
        try cursor.skip(3, "reserved bytes")
        let size = try cursor.length("collection size")
        guard size >= 4096, size <= HDF5ProfileLimits.maxGlobalHeapBytes else {
            throw reader.damaged(what, at: address, object: object, "collection of \(size) bytes (expected 4096 to \(HDF5ProfileLimits.maxGlobalHeapBytes))")
        }
        data = try reader.metadata(at: address, count: size, what, object: object)
        let objectHeader = 8 + reader.lengthSize
        let align = { (x: Int) in (x + 7) / 8 * 8 }
        var position = align(8 + reader.lengthSize)
        var objects: [UInt64: Range<Int>] = [:]
        while position + objectHeader <= size {
            var entry = reader.cursor(data, what, at: address, object: object, from: position)
            let index = UInt64(try entry.u16("object index"))
            try entry.skip(6, "reference count and reserved bytes")
            let objectSize = try entry.length("object size")
            if index == 0 { break }  // free space: the rest of the collection
            guard objectSize <= size - position - objectHeader else {
                throw reader.damaged(what, at: address, object: object, "object \(index) declares \(objectSize) bytes, the collection has \(size - position - objectHeader) left")
            }
            guard objects.updateValue(entry.position..<(entry.position + objectSize), forKey: index) == nil else {
                throw reader.damaged(what, at: address, object: object, "object index \(index) appears twice")
            }
            position += objectHeader + align(objectSize)
        }
        self.objects = objects
    }
}

/// Decoding numbers and strings from stored bytes.
enum HDF5Numbers {
    /// An integer of `size` bytes; nil for an unsigned value beyond Int64.
    static func integer(_ raw: [UInt8], at offset: Int, size: Int, signed: Bool, bigEndian: Bool) -> Int64? {
        var value: UInt64 = 0
        for i in 0..<size {
            let byte = raw[offset + (bigEndian ? i : size - 1 - i)]
            value = value << 8 | UInt64(byte)
        }
        if signed {
            let shift = UInt64(64 - 8 * size)
            return Int64(bitPattern: value << shift) >> Int64(shift)
        }
        return value <= UInt64(Int64.max) ? Int64(value) : nil
    }

    static func double(_ raw: [UInt8], at offset: Int, size: Int, bigEndian: Bool) -> Double {
        var bits: UInt64 = 0
        for i in 0..<size {
            let byte = raw[offset + (bigEndian ? i : size - 1 - i)]
            bits = bits << 8 | UInt64(byte)
        }
        switch size {
        case 2: return Double(HalfPrecision.float(fromFloat16: UInt16(bits)))
        case 4: return Double(Float(bitPattern: UInt32(bits)))
        default: return Double(bitPattern: bits)
        }
    }

    /// A fixed-length string: up to its first NUL, trailing spaces dropped when space-padded.
    static func fixedString(_ bytes: ArraySlice<UInt8>, padding: HDF5StringPadding) -> String {
        var end = bytes.firstIndex(of: 0) ?? bytes.endIndex
        if padding == .spacePadded {
            while end > bytes.startIndex && bytes[end - 1] == 0x20 { end -= 1 }
        }
        return String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
    }
}
