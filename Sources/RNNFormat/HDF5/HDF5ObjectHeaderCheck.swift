import CHDF5

/// Object headers and attribute messages, checked before libhdf5 decodes them (see
/// `HDF5StructureCheck`). Layouts from the HDF5 File Format Specification, "Data Object
/// Headers", "Attribute Message", "Datatype Message", "Dataspace Message".
extension HDF5StructureCheck {
    /// Continuation chunks one object header may have.
    private static let maxChunks = 64
    /// Messages one object header may hold across its chunks.
    private static let maxMessages = 4096
    /// Bytes one variable-length string attribute value may declare (the profile's attribute cap).
    private static let maxStringBytes: UInt64 = UInt64(HDF5AttributeLimits.maxBytes)

    struct Message {
        var type: UInt16
        var flags: UInt8
        var data: [UInt8]
        /// Absolute file offset of the message's data, for messages.
        var position: UInt64
    }

    /// Checks the object header at `address` (as libhdf5 reports it): every message within its
    /// chunk, continuations within the file, and every attribute message (see the type's doc).
    ///
    /// - Parameters:
    ///   - address: the header's address, relative to the superblock.
    ///   - object: the object's HDF5 path, for messages.
    /// - Throws: `.malformed` naming the object and the byte offset; `.refused` for shared
    ///   attribute parts; `.unsupportedType` for attribute types the profile never reads.
    func checkObjectHeader(address: UInt64, object: String) throws {
        let messages = try messages(ofHeaderAt: address, object: object)
        let space = messages.first { $0.type == 0x0001 }.flatMap { dataspaceExtent($0.data) }
        for message in messages {
            if message.type == 0x0011 {
                try checkSymbolTable(message.data, position: message.position, object: object)
                continue
            }
            if message.type == 0x0008 {
                try checkLayout(message, space: space, object: object)
                continue
            }
            if message.type == 0x0006 {
                try checkLink(message, object: object)
                continue
            }
            if message.type != 0x000C {
                try checkDatasetMessage(message, object: object)
                continue
            }
            if message.flags & 0x02 != 0 {
                throw RNNFormatError(.refused, file: path, object: object,
                                     "attribute stored as a shared message refused (the profile allows attributes in the object header only)")
            }
            try checkAttribute(message, object: object)
        }
    }

    /// Checks the superblock extension's header (libhdf5 reads it while opening the file) and
    /// takes old-style groups' K values from its B-tree K message, when it has one.
    mutating func checkSuperblockExtension(address: UInt64) throws {
        for message in try messages(ofHeaderAt: address, object: "superblock extension") where message.type == 0x0013 {
            // Version, indexed storage internal K (2), group internal K (2), group leaf K (2).
            guard message.data.count >= 7 else { throw malformed("superblock extension", "B-tree K message of \(message.data.count) bytes") }
            chunkInternalK = Int(Self.integer(message.data[1..<3]))
            groupInternalK = Int(Self.integer(message.data[3..<5]))
            groupLeafK = Int(Self.integer(message.data[5..<7]))
        }
    }

    private func messages(ofHeaderAt address: UInt64, object: String) throws -> [Message] {
        func fail(_ message: String) -> RNNFormatError {
            malformed(object, "object header at address \(address): \(message)")
        }
        guard let start = absolute(address), let prefix = bytes(at: start, count: 16) else {
            throw fail("lies beyond the end of the file (\(fileSize) bytes)")
        }
                var chunks: [(start: UInt64, length: UInt64)] = []
        let version2 = prefix[0..<4].elementsEqual("OHDR".utf8)
        var trackOrder = false
        if version2 {
            guard prefix[4] == 2 else { throw fail("version \(prefix[4]) (expected 2 after OHDR)") }
            let flags = prefix[5]
            trackOrder = flags & 0x04 != 0
            var at = 6 + (flags & 0x20 != 0 ? 16 : 0) + (flags & 0x10 != 0 ? 4 : 0)
            let width = 1 << Int(flags & 0x03)
            guard let field = bytes(at: start + UInt64(at), count: width) else { throw fail("ends inside its prefix") }
            at += width
            chunks.append((start + UInt64(at), Self.integer(field)))
        } else {
            guard prefix[0] == 1 else { throw fail("unknown version \(prefix[0])") }
            chunks.append((start + 16, Self.integer(prefix[8..<12])))
        }

        var messages: [Message] = []
        var seen = Set<UInt64>()
        var index = 0
        while index < chunks.count {
            let chunk = chunks[index]
            index += 1
            guard chunks.count <= Self.maxChunks else { throw fail("more than \(Self.maxChunks) continuation chunks") }
            guard seen.insert(chunk.start).inserted else { throw fail("continuation chunk at byte \(chunk.start) reached twice") }
            guard chunk.length <= UInt64(fileSize), let body = bytes(at: chunk.start, count: Int(chunk.length)) else {
                throw fail("chunk at byte \(chunk.start) of \(chunk.length) bytes runs past the end of the file")
            }
            var at = 0
            var end = body.count
            if version2 && index > 1 {
                guard body.count >= 8, body[0..<4].elementsEqual("OCHK".utf8) else {
                    throw fail("continuation chunk at byte \(chunk.start) lacks its OCHK signature")
                }
                at = 4
                end = body.count - 4  // checksum
            }
            let headerSize = version2 ? (trackOrder ? 6 : 4) : 8
            while at + headerSize <= end {
                let type: UInt16, size: Int, flags: UInt8
                if version2 {
                    type = UInt16(body[at])
                    size = Int(Self.integer(body[(at + 1)..<(at + 3)]))
                    flags = body[at + 3]
                } else {
                    type = UInt16(Self.integer(body[at..<(at + 2)]))
                    size = Int(Self.integer(body[(at + 2)..<(at + 4)]))
                    flags = body[at + 4]
                }
                let dataStart = at + headerSize
                guard size <= end - dataStart else {
                    throw fail("message of type \(type) at byte \(chunk.start + UInt64(at)) declares \(size) bytes, past its chunk")
                }
                let data = Array(body[dataStart..<(dataStart + size)])
                messages.append(Message(type: type, flags: flags, data: data, position: chunk.start + UInt64(dataStart)))
                guard messages.count <= Self.maxMessages else { throw fail("more than \(Self.maxMessages) messages") }
                if type == 0x0010 {  // continuation: where the next chunk lies
                    guard data.count >= offsetSize + lengthSize, let next = absolute(Self.integer(data[0..<offsetSize])) else {
                        throw fail("malformed continuation message")
                    }
                    chunks.append((next, Self.integer(data[offsetSize..<(offsetSize + lengthSize)])))
                }
                at = dataStart + size
            }
        }
        return messages
    }

    private func checkAttribute(_ message: Message, object: String) throws {
        let d = message.data
        func fail(_ text: String) -> RNNFormatError {
            malformed(object, "attribute message at byte \(message.position): \(text)")
        }
        guard d.count >= 8 else { throw fail("\(d.count) bytes, shorter than its header") }
        let version = d[0]
        guard (1...3).contains(version) else { throw fail("unknown version \(version)") }
        if version >= 2 && d[1] & 0x03 != 0 {
            throw RNNFormatError(.refused, file: path, object: object,
                                 "attribute with a shared datatype or dataspace refused (the profile allows attributes in the object header only)")
        }
        let nameSize = Int(Self.integer(d[2..<4])), typeSize = Int(Self.integer(d[4..<6])), spaceSize = Int(Self.integer(d[6..<8]))
        func padded(_ n: Int) -> Int { version == 1 ? (n + 7) / 8 * 8 : n }
        var at = version == 3 ? 9 : 8
        guard nameSize >= 1, at + nameSize <= d.count, let nul = d[at..<(at + nameSize)].firstIndex(of: 0) else {
            throw fail("name of \(nameSize) bytes is not NUL-terminated within the message")
        }
        let name = String(decoding: d[at..<nul], as: UTF8.self)
        at += padded(nameSize)
        guard at + typeSize <= d.count else { throw fail("attribute \(name): datatype runs past the message") }
        let type = d[at..<(at + typeSize)]
        at += padded(typeSize)
        guard at + spaceSize <= d.count else { throw fail("attribute \(name): dataspace runs past the message") }
        let space = d[at..<(at + spaceSize)]
        at += padded(spaceSize)
        guard at <= d.count else { throw fail("attribute \(name): dataspace runs past the message") }

        let element = try attributeType(type, attribute: name, object: object, fail: fail)
        let points = try dataspacePoints(space, attribute: name, fail: fail)
        let (bytes, overflow) = points.multipliedReportingOverflow(by: element.size)
        guard !overflow, bytes <= UInt64(d.count - at) else {
            throw fail("attribute \(name): \(points) elements of \(element.size) bytes run past the message (\(d.count - at) bytes of data)")
        }
        guard element.isVariableString else { return }
        // Each element: length (4), global heap collection address, object index (4).
        let stride = 8 + offsetSize
        for index in 0..<Int(points) {
            let e = at + index * stride
            let length = Self.integer(d[e..<(e + 4)])
            let collection = Self.integer(d[(e + 4)..<(e + 4 + offsetSize)])
            let objectIndex = Self.integer(d[(e + 4 + offsetSize)..<(e + 8 + offsetSize)])
            if collection == 0 { continue }  // a null string
            guard length <= Self.maxStringBytes else {
                throw RNNFormatError(.refused, file: path, object: object,
                                     "attribute \(name) declares a string of \(length) bytes (at most \(Self.maxStringBytes) allowed)")
            }
            guard let at = absolute(collection), at <= UInt64(fileSize),
                  raw.bytes(at: Int(at), count: 8) == Array("GCOL".utf8) + [1, 0, 0, 0] else {
                throw fail("attribute \(name): string \(index) points to no global heap collection (address \(collection))")
            }
            let objects = try raw.checkCollection(at: Int(at))
            guard objectIndex <= UInt64(UInt32.max), let stored = objects[UInt32(objectIndex)] else {
                throw fail("attribute \(name): string \(index) names object \(objectIndex) of \(length) bytes, which the heap does not hold (collection at address \(collection))")
            }
            guard stored <= length else {
                throw fail("attribute \(name): string \(index) declares \(length) bytes, its heap object holds \(stored)")
            }
        }
    }

    private struct AttributeElement {
        /// Bytes one element occupies in the file.
        var size: UInt64
        var isVariableString: Bool
        /// Bytes the datatype's own encoding occupies.
        var encodedLength: Int
    }

    /// The datatype of an attribute, restricted to the classes the profile reads: integers,
    /// IEEE-style floats, strings, enums of integers (h5py's bool), variable-length strings.
    private func attributeType(
        _ t: ArraySlice<UInt8>, attribute: String, object: String, depth: Int = 0,
        fail: (String) -> RNNFormatError
    ) throws -> AttributeElement {
        guard depth <= 2 else { throw fail("attribute \(attribute): datatype nested too deeply") }
        guard t.count >= 8 else { throw fail("attribute \(attribute): datatype of \(t.count) bytes") }
        let s = t.startIndex
        let cls = t[s] & 0x0F, version = t[s] >> 4
        guard (1...3).contains(version) else { throw fail("attribute \(attribute): datatype version \(version)") }
        let bits = Self.integer(t[(s + 1)..<(s + 4)])
        let size = Self.integer(t[(s + 4)..<(s + 8)])
        func need(_ n: Int) throws {
            guard t.count >= n else { throw fail("attribute \(attribute): datatype properties run past the message") }
        }
        switch cls {
        case 0:  // fixed-point: bit offset, precision
            try need(12)
            guard (1...8).contains(size) else { throw fail("attribute \(attribute): integer of \(size) bytes") }
            return AttributeElement(size: size, isVariableString: false, encodedLength: 12)
        case 1:  // floating-point: bit offset, precision, exponent and mantissa fields, bias
            try need(20)
            guard [2, 4, 8].contains(size) else { throw fail("attribute \(attribute): float of \(size) bytes") }
            return AttributeElement(size: size, isVariableString: false, encodedLength: 20)
        case 3:  // fixed-length string
            guard (1...Self.maxStringBytes).contains(size) else { throw fail("attribute \(attribute): string of \(size) bytes") }
            return AttributeElement(size: size, isVariableString: false, encodedLength: 8)
        case 8:  // enum: base type, member names, member values
            let base = try attributeType(t[(s + 8)...], attribute: attribute, object: object, depth: depth + 1, fail: fail)
            guard !base.isVariableString, base.size == size, t[s + 8] & 0x0F == 0 else {
                throw fail("attribute \(attribute): enum over a non-integer base type")
            }
            let members = Int(bits & 0xFFFF)
            var at = s + 8 + base.encodedLength
            for _ in 0..<members {
                guard at < t.endIndex, let nul = t[at...].firstIndex(of: 0) else {
                    throw fail("attribute \(attribute): enum member name is not NUL-terminated within the datatype")
                }
                let length = nul - at + 1
                at += version >= 3 ? length : (length + 7) / 8 * 8
            }
            let (values, overflow) = members.multipliedReportingOverflow(by: Int(size))
            guard !overflow, at <= t.endIndex, values <= t.endIndex - at else {
                throw fail("attribute \(attribute): enum values run past the datatype")
            }
            return AttributeElement(size: size, isVariableString: false, encodedLength: at + values - s)
        case 9 where bits & 0x0F == 1:  // variable-length string over a character type
            let base = try attributeType(t[(s + 8)...], attribute: attribute, object: object, depth: depth + 1, fail: fail)
            guard !base.isVariableString, base.size == 1 else {
                throw fail("attribute \(attribute): variable-length string of \(base.size)-byte characters")
            }
            // libhdf5 sizes the attribute's data from this field, the elements from the file's
            // address size: they must agree (it writes 4 + address size + 4).
            guard size == UInt64(8 + offsetSize) else {
                throw fail("attribute \(attribute): variable-length string declares \(size)-byte elements, expected \(8 + offsetSize)")
            }
            return AttributeElement(size: UInt64(8 + offsetSize), isVariableString: true, encodedLength: 8 + base.encodedLength)
        default:
            let name = cls == 9 ? "variable-length sequence" : HDF5TypeClass.name(H5T_class_t(rawValue: Int32(cls)))
            throw RNNFormatError(.unsupportedType, file: path, object: object,
                                 "attribute \(attribute): expected an integer, float, string or bool, found \(name)")
        }
    }

    /// The number of elements a dataspace message declares (scalar 1, null 0).
    private func dataspacePoints(_ t: ArraySlice<UInt8>, attribute: String, fail: (String) -> RNNFormatError) throws -> UInt64 {
        guard t.count >= 4 else { throw fail("attribute \(attribute): dataspace of \(t.count) bytes") }
        let s = t.startIndex
        let version = t[s], rank = Int(t[s + 1]), flags = t[s + 2]
        let headerSize: Int
        switch version {
        case 1: headerSize = 8
        case 2: headerSize = 4
        default: throw fail("attribute \(attribute): dataspace version \(version)")
        }
        guard rank <= 32 else { throw fail("attribute \(attribute): dataspace of rank \(rank)") }
        let lengthSize = lengthSize
        let arrays = 1 + (flags & 0x01 != 0 ? 1 : 0)
        guard t.count >= headerSize + arrays * rank * lengthSize + (version == 1 && flags & 0x02 != 0 ? 4 * rank : 0) else {
            throw fail("attribute \(attribute): dataspace dimensions run past the message")
        }
        if version == 2 && t[s + 3] == 2 { return 0 }  // null dataspace
        var points: UInt64 = 1
        for i in 0..<rank {
            let at = s + headerSize + i * lengthSize
            let (product, overflow) = points.multipliedReportingOverflow(by: Self.integer(t[at..<(at + lengthSize)]))
            guard !overflow else { throw fail("attribute \(attribute): dataspace size overflows") }
            points = product
        }
        return points
    }
}

/// Old-style groups: the symbol table message, its B-tree ("TREE") and symbol nodes ("SNOD").
extension HDF5StructureCheck {
    /// B-tree nodes one group may have, and how deep its tree may be.
    private static let maxGroupNodes = 4096
    private static let maxGroupDepth = 16

    /// Checks a symbol table message and the whole B-tree below it, so that libhdf5's
    /// recursive walks (`H5B_iterate`, `H5G__node_sumup`) only ever read nodes that lie within
    /// the file, carry their signatures, hold no more entries than the superblock's K allows
    /// and form a tree (a loop would recurse without end).
    fileprivate func checkSymbolTable(_ data: [UInt8], position: UInt64, object: String) throws {
        let o = offsetSize, l = lengthSize
        func fail(_ text: String) -> RNNFormatError {
            malformed(object, "symbol table message at byte \(position): \(text)")
        }
        guard data.count >= 2 * o else { throw fail("\(data.count) bytes, expected \(2 * o)") }
        let heapAddress = Self.integer(data[o..<(2 * o)])
        guard let heap = absolute(heapAddress) else { throw fail("local heap address \(heapAddress) overflows") }
        let heapSize = try checkLocalHeap(at: heap, object: object)
        let leafK = groupLeafK, internalK = groupInternalK
        guard leafK > 0, internalK > 0 else { throw fail("the superblock's group K values are zero") }
        let entrySize = 2 * o + 8 + 16
        let symbolNodeSize = 8 + 2 * leafK * entrySize
        let treeNodeSize = 8 + 2 * o + 2 * internalK * (l + o) + l
        var visited = Set<UInt64>()

        func visit(_ address: UInt64, level: Int?, depth: Int) throws {
            guard depth <= Self.maxGroupDepth else { throw fail("B-tree deeper than \(Self.maxGroupDepth) levels") }
            guard visited.insert(address).inserted else { throw fail("B-tree node at address \(address) is reached twice") }
            guard visited.count <= Self.maxGroupNodes else { throw fail("more than \(Self.maxGroupNodes) B-tree nodes") }
            guard let at = absolute(address), let node = bytes(at: at, count: treeNodeSize),
                  node[0..<4].elementsEqual("TREE".utf8) else {
                throw fail("B-tree node address \(address) does not point at a B-tree node within the file")
            }
            let nodeLevel = Int(node[5]), used = Int(Self.integer(node[6..<8]))
            guard node[4] == 0 else { throw fail("B-tree node at address \(address) is of type \(node[4]), expected 0 (group)") }
            if let level, nodeLevel != level {
                throw fail("B-tree node at address \(address) has level \(nodeLevel), expected \(level)")
            }
            guard used <= 2 * internalK else {
                throw fail("B-tree node at address \(address) holds \(used) entries, at most \(2 * internalK) allowed")
            }
            for index in 0..<used {
                let childAt = 8 + 2 * o + l + index * (l + o)
                let child = Self.integer(node[childAt..<(childAt + o)])
                if nodeLevel > 0 {
                    try visit(child, level: nodeLevel - 1, depth: depth + 1)
                } else {
                    try visitSymbols(child)
                }
            }
        }

        func visitSymbols(_ address: UInt64) throws {
            guard visited.insert(address).inserted else { throw fail("symbol node at address \(address) is reached twice") }
            guard let at = absolute(address), let node = bytes(at: at, count: symbolNodeSize),
                  node[0..<4].elementsEqual("SNOD".utf8), node[4] == 1 else {
                throw fail("symbol node address \(address) does not point at a symbol node within the file")
            }
            let count = Int(Self.integer(node[6..<8]))
            guard count <= 2 * leafK else {
                throw fail("symbol node at address \(address) holds \(count) entries, at most \(2 * leafK) allowed")
            }
            for index in 0..<count {
                let entry = 8 + index * entrySize
                let nameOffset = Self.integer(node[entry..<(entry + o)])
                let header = Self.integer(node[(entry + o)..<(entry + 2 * o)])
                guard nameOffset < heapSize else {
                    throw fail("symbol \(index) at address \(address) names offset \(nameOffset), beyond the \(heapSize)-byte local heap")
                }
                let undefined = o == 8 ? UInt64.max : (UInt64(1) << UInt64(8 * o)) - 1
                guard header == undefined || (absolute(header).map { $0 < UInt64(fileSize) } ?? false) else {
                    throw fail("symbol \(index) at address \(address) points to object header address \(header), beyond the file")
                }
            }
        }

        try visit(Self.integer(data[0..<o]), level: nil, depth: 0)
    }
}

/// Link messages: a group's links in its own object header ("compact" storage).
extension HDF5StructureCheck {
    /// Checks a link message as libhdf5's `H5O__link_decode` will decode it: version 1, known
    /// flags, a link type and character set it accepts, a non-empty name, and the name, the
    /// hard link's address, the soft link's path or the user-defined link's data all within
    /// the message.
    ///
    /// libhdf5 1.10 decodes every link message of a group into a table to answer
    /// `H5Lget_name_by_idx`; when one fails to decode it frees the table's entries that were
    /// never filled (`H5G__link_release_table`) and crashes (found by tools/fuzz.sh hdf5). So
    /// no link message may be one libhdf5 refuses.
    fileprivate func checkLink(_ message: Message, object: String) throws {
        var c = MessageCursor(message.data) { [self] in malformed(object, "link message at byte \(message.position): \($0)") }
        let version = try c.byte("version")
        guard version == 1 else { throw c.fail("version \(version), expected 1") }
        let flags = try c.byte("flags")
        guard flags & ~0x1F == 0 else { throw c.fail("flags 0x\(String(flags, radix: 16)), expected only bits 0x1f") }
        var type: UInt8 = 0  // hard
        if flags & 0x08 != 0 {
            type = try c.byte("link type")
            guard type <= 1 || type >= 64 else {
                throw c.fail("link type \(type), expected 0 (hard), 1 (soft) or 64-255 (user-defined)")
            }
        }
        if flags & 0x04 != 0 { _ = try c.take(8, "creation order") }
        if flags & 0x10 != 0 {
            let cset = try c.byte("character set")
            guard cset <= 1 else { throw c.fail("character set \(cset), expected 0 (ASCII) or 1 (UTF-8)") }
        }
        let nameLength = Self.integer(try c.take(1 << UInt64(flags & 0x03), "name length"))
        guard nameLength > 0 else { throw c.fail("name of 0 bytes") }
        let name = try c.take(nameLength, "name")
        guard !name.contains(0) else { throw c.fail("name of \(nameLength) bytes holds a NUL byte") }
        let label = String(decoding: name.prefix(HDF5ProfileLimits.maxNameBytes), as: UTF8.self)
        switch type {
        case 0:
            _ = try c.take(UInt64(offsetSize), "link \(label): object address")
        case 1:
            let length = Self.integer(try c.take(2, "link \(label): soft link path length"))
            guard length > 0 else { throw c.fail("link \(label): soft link path of 0 bytes") }
            _ = try c.take(length, "link \(label): soft link path")
        default:
            let kind = type == 64 ? "external link data" : "user-defined link data"
            let length = Self.integer(try c.take(2, "link \(label): \(kind) length"))
            // Newer libhdf5 refuses an external link's data shorter than its flags and two NULs.
            guard type != 64 || length >= 3 else { throw c.fail("link \(label): \(kind) of \(length) bytes, expected at least 3") }
            _ = try c.take(length, "link \(label): \(kind)")
        }
    }
}

/// Data layout messages and the version 1 B-trees that index chunks.
extension HDF5StructureCheck {
    /// Chunk B-tree nodes one dataset may have, and how deep its tree may be.
    private static let maxChunkNodes = 1 << 16
    private static let maxChunkDepth = 32

    static let virtualDatasetRefusal = "virtual dataset refused (its data is mapped from other datasets or files)"

    /// Checks a data layout message the way libhdf5's `H5O__layout_decode` and
    /// `H5D__chunk_set_info` will use it: compact data within the message, chunk dimensions
    /// present and non-zero (libhdf5 divides by them), and a version 3 chunk index that is a
    /// tree of chunk B-tree nodes within the file whose chunks lie within the file. Virtual
    /// layouts are refused here.
    fileprivate func checkLayout(_ message: Message, space: (dims: [UInt64], max: [UInt64]?)?, object: String) throws {
        let d = message.data
        func fail(_ text: String) -> RNNFormatError {
            malformed(object, "layout message at byte \(message.position): \(text)")
        }
        guard d.count >= 2 else { throw fail("\(d.count) bytes") }
        let version = d[0]
        var dims: [UInt64] = []
        var index: UInt64?
        switch version {
        case 1, 2:
            guard d.count >= 8 else { throw fail("\(d.count) bytes") }
            let dimensionality = Int(d[1]), layoutClass = d[2]
            var at = 8 + (layoutClass == 0 ? 0 : offsetSize)
            guard dimensionality >= 1, at + 4 * dimensionality <= d.count else { throw fail("dimensions run past the message") }
            dims = (0..<dimensionality).map { Self.integer(d[(at + 4 * $0)..<(at + 4 * $0 + 4)]) }
            at += 4 * dimensionality
            if layoutClass == 0 {
                guard at + 4 <= d.count, Self.integer(d[at..<(at + 4)]) <= UInt64(d.count - at - 4) else {
                    throw fail("compact data runs past the message")
                }
                return
            }
            guard layoutClass == 2 else { return }
            index = Self.integer(d[8..<(8 + offsetSize)])
        case 3:
            switch d[1] {
            case 0:
                guard d.count >= 4, Self.integer(d[2..<4]) <= UInt64(d.count - 4) else { throw fail("compact data runs past the message") }
                return
            case 2:
                guard d.count >= 3 else { throw fail("\(d.count) bytes") }
                let dimensionality = Int(d[2])
                guard dimensionality >= 2, 3 + offsetSize + 4 * dimensionality <= d.count else {
                    throw fail("chunk of \(dimensionality) dimensions (at least 2: rank and element size) or dimensions past the message")
                }
                index = Self.integer(d[3..<(3 + offsetSize)])
                let at = 3 + offsetSize
                dims = (0..<dimensionality).map { Self.integer(d[(at + 4 * $0)..<(at + 4 * $0 + 4)]) }
            default:
                return
            }
        case 4, 5:
            if d[1] == 3 {
                // libhdf5 decodes a virtual layout's mapping (file and dataset names, selections)
                // from a global heap object while opening the dataset, unchecked (an object index
                // beyond its collection crashed H5HG_read); the profile refuses these anyway.
                throw RNNFormatError(.refused, file: path, object: object, Self.virtualDatasetRefusal)
            }
            guard d[1] == 2 else { return }
            guard d.count >= 5 else { throw fail("\(d.count) bytes") }
            let dimensionality = Int(d[3]), width = Int(d[4])
            guard dimensionality >= 2, (1...8).contains(width), 5 + width * dimensionality <= d.count else {
                throw fail("chunk of \(dimensionality) dimensions of \(width)-byte sizes, or dimensions past the message")
            }
            dims = (0..<dimensionality).map { Self.integer(d[(5 + width * $0)..<(5 + width * $0 + width)]) }
        default:
            throw fail("unknown version \(version)")
        }
        if let zero = dims.firstIndex(of: 0) {
            throw fail("chunk dimension \(zero) is 0")
        }
        // libhdf5's own rules when it creates a chunked dataset (H5D__chunk_construct), which
        // it does not check on reading: a chunk is less than 4 GiB, and no larger than a
        // dimension that cannot grow.
        var bytes: UInt64 = 1
        for dim in dims {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: dim)
            guard !overflow, product < 1 << 32 else { throw fail("chunk of \(dims) declares 4 GiB or more") }
            bytes = product
        }
        if let space, space.dims.count == dims.count - 1 {
            let unlimited = UInt64.max
            for (i, limit) in (space.max ?? space.dims).enumerated() where limit != unlimited && dims[i] > max(limit, 1) {
                throw fail("chunk dimension \(i) is \(dims[i]), larger than the dataset's fixed dimension \(limit)")
            }
        }
        guard let index, version == 3 else { return }
        let undefined = offsetSize == 8 ? UInt64.max : (UInt64(1) << UInt64(8 * offsetSize)) - 1
        guard index != undefined else { return }  // no chunk written yet
        try checkChunkTree(index, dimensionality: dims.count, object: object, fail: fail)
    }

    /// Walks a chunk B-tree (type 1): nodes within the file with their signature, levels that
    /// descend, at most 2K entries, no node reached twice, and every chunk within the file.
    private func checkChunkTree(_ root: UInt64, dimensionality: Int, object: String, fail: (String) -> RNNFormatError) throws {
        let o = offsetSize
        let k = max(1, chunkInternalK)
        let keySize = 8 + 8 * dimensionality
        let nodeSize = 8 + 2 * o + 2 * k * (keySize + o) + keySize
        var visited = Set<UInt64>()
        func visit(_ address: UInt64, level: Int?, depth: Int) throws {
            guard depth <= Self.maxChunkDepth, visited.count < Self.maxChunkNodes else { throw fail("chunk B-tree too deep or too large") }
            guard visited.insert(address).inserted else { throw fail("chunk B-tree node at address \(address) is reached twice") }
            guard let at = absolute(address), let node = bytes(at: at, count: min(nodeSize, max(0, fileSize - Int(clamping: at)))),
                  node.count >= 8 + 2 * o, node[0..<4].elementsEqual("TREE".utf8), node[4] == 1 else {
                throw fail("chunk B-tree address \(address) does not point at a chunk B-tree node within the file")
            }
            let nodeLevel = Int(node[5]), used = Int(Self.integer(node[6..<8]))
            if let level, nodeLevel != level { throw fail("chunk B-tree node at address \(address) has level \(nodeLevel), expected \(level)") }
            guard used <= 2 * k, 8 + 2 * o + used * (keySize + o) + keySize <= node.count else {
                throw fail("chunk B-tree node at address \(address) holds \(used) entries, at most \(2 * k) within the file allowed")
            }
            for entry in 0..<used {
                let keyAt = 8 + 2 * o + entry * (keySize + o)
                let child = Self.integer(node[(keyAt + keySize)..<(keyAt + keySize + o)])
                if nodeLevel > 0 {
                    try visit(child, level: nodeLevel - 1, depth: depth + 1)
                } else {
                    let size = Self.integer(node[keyAt..<(keyAt + 4)])
                    guard let start = absolute(child), start <= UInt64(fileSize), size <= UInt64(fileSize) - start else {
                        throw fail("chunk at address \(child) of \(size) bytes lies beyond the end of the file")
                    }
                }
            }
        }
        try visit(root, level: nil, depth: 0)
    }
}

extension HDF5StructureCheck {
    /// A dataspace message's dimensions and maximum dimensions (nil when it has none); nil
    /// when the message is too short (libhdf5 reports that).
    fileprivate func dataspaceExtent(_ d: [UInt8]) -> (dims: [UInt64], max: [UInt64]?)? {
        guard d.count >= 4 else { return nil }
        let version = d[0], rank = Int(d[1]), flags = d[2]
        let start = version == 1 ? 8 : 4
        guard rank <= 32, start + (flags & 1 != 0 ? 2 : 1) * rank * lengthSize <= d.count else { return nil }
        func field(_ i: Int) -> UInt64 {
            let v = Self.integer(d[(start + i * lengthSize)..<(start + (i + 1) * lengthSize)])
            // Unlimited is all ones in the file's length size.
            return lengthSize < 8 && v == (UInt64(1) << UInt64(8 * lengthSize)) - 1 ? UInt64.max : v
        }
        let dims = (0..<rank).map(field)
        let max = flags & 1 != 0 ? (0..<rank).map { field(rank + $0) } : nil
        return (dims, max)
    }
}
