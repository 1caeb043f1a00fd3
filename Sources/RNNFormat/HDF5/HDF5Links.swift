/// What a link names.
enum HDF5LinkTarget: Equatable {
    /// An object header in this file.
    case hard(UInt64)
    case soft
    case external
    case userDefined(UInt8)
}

/// A group member: its name and what it points to.
struct HDF5Link: Equatable {
    var name: String
    var target: HDF5LinkTarget
}

/// The links of a group, in any of HDF5's three layouts: a symbol table (old-style groups: a
/// version 1 B-tree of symbol nodes whose names live in a local heap), link messages in the
/// group's header (compact), or a fractal heap indexed by a version 2 B-tree (dense).
extension HDF5Reader {
    func links(of header: HDF5ObjectHeader, object: String) throws -> [HDF5Link] {
        if let info = try header.single(.linkInfo, reader: self, object: object) {
            var links = try header.messages(.link).map { try link($0.data, at: $0.address, object: object) }
            var cursor = cursor(info.data, "link info message", at: info.address, object: object)
            let version = try cursor.u8("version")
            guard version == 0 else { throw damaged("link info message", at: info.address, object: object, "version \(version) (expected 0)") }
            let flags = try cursor.u8("flags")
            if flags & 0x01 != 0 { try cursor.skip(8, "maximum creation index") }
            let heapAddress = try cursor.address("fractal heap address")
            let indexAddress = try cursor.address("name index address")
            if let heapAddress {
                guard let indexAddress else {
                    throw damaged("link info message", at: info.address, object: object, "a dense link heap without its name index")
                }
                let messages = try denseMessages(heap: heapAddress, index: indexAddress, type: .linkName, limit: HDF5ProfileLimits.maxObjects, object: object,
                                                 tooMany: { self.refused(object, "more than \(HDF5ProfileLimits.maxObjects) objects in the file (a group of \($0) links)") }) { record, idLength in
                    // Record: the name's hash (4 bytes), then the heap ID.
                    guard record.count == 4 + idLength else {
                        throw self.damaged("link name index", at: indexAddress, object: object, "records of \(record.count) bytes for heap IDs of \(idLength)")
                    }
                    return 4..<record.count
                }
                links += try messages.map { try link($0, at: heapAddress, object: object) }
            }
            return links
        }
        guard let table = try header.single(.symbolTable, reader: self, object: object) else {
            throw damaged("group", at: header.address, object: object, "neither a symbol table nor link info message")
        }
        var cursor = cursor(table.data, "symbol table message", at: table.address, object: object)
        guard let treeAddress = try cursor.address("B-tree address"), let heapAddress = try cursor.address("local heap address") else {
            throw damaged("symbol table message", at: table.address, object: object, "undefined B-tree or local heap address")
        }
        let names = try LocalHeap(reader: self, at: heapAddress, object: object)
        var walk = SymbolTableWalk(reader: self, names: names, object: object)
        try walk.node(at: treeAddress, level: nil)
        return walk.links
    }

    /// Decodes a link message (HDF5 spec IV.A.2.g).
    func link(_ data: [UInt8], at address: UInt64, object: String) throws -> HDF5Link {
        let what = "link message"
        var cursor = cursor(data, what, at: address, object: object)
        let version = try cursor.u8("version")
        guard version == 1 else { throw damaged(what, at: address, object: object, "version \(version) (expected 1)") }
        let flags = try cursor.u8("flags")
        guard flags & 0xE0 == 0 else { throw damaged(what, at: address, object: object, "unknown flags \(hex(flags))") }
        let type = flags & 0x08 != 0 ? try cursor.u8("link type") : 0
        if flags & 0x04 != 0 { try cursor.skip(8, "creation order") }
        if flags & 0x10 != 0 {
            let charset = try cursor.u8("name character set")
            guard charset <= 1 else { throw damaged(what, at: address, object: object, "name character set \(charset) (expected 0 ASCII or 1 UTF-8)") }
        }
        let length = try cursor.int(1 << Int(flags & 0x03), "name length")
        guard length <= HDF5ProfileLimits.maxNameBytes else {
            throw refused(object, "link name of \(length) bytes (at most \(HDF5ProfileLimits.maxNameBytes) allowed)")
        }
        let name = try linkName(Array(try cursor.take(length, "name")), object: object)
        switch type {
        case 0:
            guard let target = try cursor.address("object address") else {
                throw damaged(what, at: address, object: object, "hard link \(name.debugDescription) with an undefined address")
            }
            return HDF5Link(name: name, target: .hard(target))
        case 1: return HDF5Link(name: name, target: .soft)
        case 64: return HDF5Link(name: name, target: .external)
        case 65...: return HDF5Link(name: name, target: .userDefined(type))
        default: throw damaged(what, at: address, object: object, "link type \(type) (expected 0, 1, 64 or 65-255)")
        }
    }

    /// A link name as the profile accepts it: 1 to 1024 bytes of UTF-8 without NUL, `/` or
    /// control characters (names end up in paths, state_dict keys and one-line messages).
    func linkName(_ bytes: [UInt8], object: String) throws -> String {
        guard !bytes.isEmpty, !bytes.contains(0) else {
            throw damaged("link", at: nil, object: object, "an empty name or a name with a NUL byte")
        }
        guard bytes.count <= HDF5ProfileLimits.maxNameBytes else {
            throw refused(object, "link name of \(bytes.count) bytes (at most \(HDF5ProfileLimits.maxNameBytes) allowed)")
        }
        let name = String(decoding: bytes, as: UTF8.self)
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw refused(object, "link name \(name.debugDescription) with control characters refused")
        }
        guard !bytes.contains(UInt8(ascii: "/")), name != "." else {
            throw refused(object, "link name \(name.debugDescription) refused (a name may not be \".\" or contain \"/\")")
        }
        return name
    }
}

/// An old-style group's local heap: the names of its links.
private struct LocalHeap {
    let data: [UInt8]
    let address: UInt64

    init(reader: HDF5Reader, at address: UInt64, object: String) throws {
        let what = "local heap"
        let size = 4 + 4 + 2 * reader.lengthSize + reader.offsetSize
        let header = try reader.metadata(at: address, count: size, what, object: object)
        var cursor = reader.cursor(header, what, at: address, object: object)
        guard try cursor.signature("HEAP") else { throw reader.damaged(what, at: address, object: object, "no HEAP signature") }
        let version = try cursor.u8("version")
        guard version == 0 else { throw reader.damaged(what, at: address, object: object, "version \(version) (expected 0)") }
        try cursor.skip(3, "reserved bytes")
        let length = try cursor.length("data segment size")
        try cursor.skip(reader.lengthSize, "free list offset")
        guard let segment = try cursor.address("data segment address") else {
            throw reader.damaged(what, at: address, object: object, "undefined data segment address")
        }
        data = try reader.metadata(at: segment, count: length, "local heap data segment", object: object)
        self.address = address
    }

    /// The NUL-terminated string at `offset`.
    func string(at offset: Int, reader: HDF5Reader, object: String) throws -> [UInt8] {
        guard offset >= 0, offset < data.count, let end = data[offset...].firstIndex(of: 0) else {
            throw reader.damaged("local heap", at: address, object: object, "no NUL-terminated name at offset \(offset) of \(data.count) bytes")
        }
        return Array(data[offset..<end])
    }
}

/// The version 1 B-tree of an old-style group (node type 0) and its symbol table nodes.
private struct SymbolTableWalk {
    let reader: HDF5Reader
    let names: LocalHeap
    let object: String
    var links: [HDF5Link] = []
    var visited: Set<UInt64> = []

    init(reader: HDF5Reader, names: LocalHeap, object: String) {
        self.reader = reader
        self.names = names
        self.object = object
    }

    mutating func node(at address: UInt64, level expected: Int?) throws {
        let what = "group B-tree node"
        let header = try HDF5BTree1Node(reader: reader, at: address, type: 0, expectedLevel: expected, visited: &visited, what, object: object)
        guard visited.count <= HDF5ProfileLimits.maxObjects else { throw reader.refused(object, "group B-tree of more than \(HDF5ProfileLimits.maxObjects) nodes") }
        let (level, entries) = (header.level, header.entries)
        guard entries <= 2 * reader.groupInternalK else {
            throw reader.damaged(what, at: address, object: object, "\(entries) entries (the superblock allows \(2 * reader.groupInternalK))")
        }
        let size = header.headerSize + entries * (reader.lengthSize + reader.offsetSize) + reader.lengthSize
        let bytes = try reader.metadata(at: address, count: size, what, object: object)
        var cursor = reader.cursor(bytes, what, at: address, object: object, from: header.headerSize)
        var children: [UInt64] = []
        for _ in 0..<entries {
            try cursor.skip(reader.lengthSize, "key")
            guard let child = try cursor.address("child address") else {
                throw reader.damaged(what, at: address, object: object, "a child with an undefined address")
            }
            children.append(child)
        }
        for child in children {
            if level == 0 {
                try symbolNode(at: child)
            } else {
                try node(at: child, level: level - 1)
            }
        }
    }

    mutating func symbolNode(at address: UInt64) throws {
        let what = "symbol table node"
        guard visited.insert(address).inserted else { throw reader.damaged(what, at: address, object: object, "reached twice (a loop)") }
        let head = try reader.metadata(at: address, count: 8, what, object: object)
        var cursor = reader.cursor(head, what, at: address, object: object)
        guard try cursor.signature("SNOD") else { throw reader.damaged(what, at: address, object: object, "no SNOD signature") }
        let version = try cursor.u8("version")
        guard version == 1 else { throw reader.damaged(what, at: address, object: object, "version \(version) (expected 1)") }
        try cursor.skip(1, "reserved byte")
        let count = Int(try cursor.u16("number of symbols"))
        guard count <= 2 * reader.groupLeafK else {
            throw reader.damaged(what, at: address, object: object, "\(count) symbols (the superblock allows \(2 * reader.groupLeafK))")
        }
        let entrySize = 2 * reader.offsetSize + 24
        let bytes = try reader.metadata(at: address, count: 8 + count * entrySize, what, object: object)
        cursor = reader.cursor(bytes, what, at: address, object: object, from: 8)
        for _ in 0..<count {
            let nameOffset = try cursor.int(reader.offsetSize, "link name offset")
            let header = try cursor.address("object header address")
            let cacheType = try cursor.u32("cache type")
            try cursor.skip(4 + 16, "reserved bytes and scratch pad")
            let name = try reader.linkName(try names.string(at: nameOffset, reader: reader, object: object), object: object)
            switch cacheType {
            case 0, 1:
                guard let header else { throw reader.damaged(what, at: address, object: object, "entry \(name.debugDescription) with an undefined object address") }
                links.append(HDF5Link(name: name, target: .hard(header)))
            case 2:
                links.append(HDF5Link(name: name, target: .soft))
            default:
                throw reader.damaged(what, at: address, object: object, "entry \(name.debugDescription) of cache type \(cacheType) (expected 0, 1 or 2)")
            }
        }
    }
}
