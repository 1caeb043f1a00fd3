/// Decoders of the object header messages that describe a dataset or an attribute's value:
/// dataspace, datatype, fill value, filter pipeline and data layout (HDF5 spec IV.A.2).
///
/// Each decoder takes the message's bytes and checks every field against them; damage is
/// reported through `reader.damaged`, a feature outside the profile through `reader.refused`.

/// A dataspace: scalar, simple (with a shape) or null.
struct HDF5Dataspace: Equatable {
    enum Kind { case scalar, simple, null }
    var kind: Kind
    var dims: [Int]
    /// Per dimension: the maximum size, nil when unlimited.
    var maxDims: [Int?]

    /// Elements: 1 for a scalar, 0 for null, the product of the shape for a simple one.
    func elementCount() -> Int? {
        switch kind {
        case .null: return 0
        case .scalar: return 1
        case .simple:
            var count = 1
            for dim in dims {
                let (product, overflow) = count.multipliedReportingOverflow(by: dim)
                if overflow { return nil }
                count = product
            }
            return count
        }
    }

    init(kind: Kind, dims: [Int], maxDims: [Int?]) {
        self.kind = kind
        self.dims = dims
        self.maxDims = maxDims
    }

    init(_ data: [UInt8], reader: HDF5Reader, at address: UInt64, object: String) throws {
        var cursor = reader.cursor(data, "dataspace message", at: address, object: object)
        let version = try cursor.u8("version")
        let rank = Int(try cursor.u8("rank"))
        let flags = try cursor.u8("flags")
        switch version {
        case 1:
            try cursor.skip(5, "reserved bytes")
            kind = rank == 0 ? .scalar : .simple
        case 2:
            switch try cursor.u8("type") {
            case 0: kind = .scalar
            case 1: kind = .simple
            case 2: kind = .null
            case let other: throw reader.damaged("dataspace message", at: address, object: object, "type \(other) (expected 0 scalar, 1 simple or 2 null)")
            }
        default:
            throw reader.damaged("dataspace message", at: address, object: object, "version \(version) (expected 1 or 2)")
        }
        guard rank <= 32 else { throw reader.damaged("dataspace message", at: address, object: object, "rank \(rank) (HDF5 allows at most 32)") }
        guard kind == .simple || rank == 0 else {
            throw reader.damaged("dataspace message", at: address, object: object, "a scalar or null dataspace of rank \(rank)")
        }
        dims = try (0..<rank).map { _ in try cursor.length("dimension size") }
        let unlimited = HDF5Cursor.undefined(reader.lengthSize)
        if flags & 0x01 != 0 {
            maxDims = try (0..<rank).map { _ in
                let value = try cursor.uint(reader.lengthSize, "maximum dimension size")
                return value == unlimited ? nil : Int(exactly: value) ?? Int.max
            }
        } else {
            maxDims = dims.map { $0 }
        }
    }
}

/// How a fixed-length string is padded.
enum HDF5StringPadding: Equatable {
    case nullTerminated, nullPadded, spacePadded
}

/// A datatype, as far as the profile reads: numbers, strings, enums of integers. Every other
/// class is kept by name so that the profile can refuse it in words.
indirect enum HDF5Datatype: Equatable {
    case integer(size: Int, signed: Bool, bigEndian: Bool)
    /// IEEE binary16, binary32 or binary64.
    case float(size: Int, bigEndian: Bool)
    case string(size: Int, padding: HDF5StringPadding)
    /// Variable-length string: each element is a reference into a global heap collection.
    case variableString(padding: HDF5StringPadding)
    case enumeration(base: HDF5Datatype, names: [String], values: [Int64])
    /// A float of a layout other than IEEE binary16, 32 and 64.
    case otherFloat(size: Int)
    /// Anything else: the class's name and the element size.
    case other(String, size: Int)

    /// Bytes per element as stored (a variable-length string stores a heap reference).
    func size(_ reader: HDF5Reader) -> Int {
        switch self {
        case .integer(let size, _, _), .float(let size, _), .string(let size, _), .otherFloat(let size), .other(_, let size): size
        case .variableString: 4 + reader.offsetSize + 4
        case .enumeration(let base, _, _): base.size(reader)
        }
    }

    /// What the type is, for messages.
    var description: String {
        switch self {
        case .integer(let size, let signed, _): "\(signed ? "" : "u")int\(size * 8)"
        case .float(let size, _): "float\(size * 8)"
        case .string(let size, _): "string of \(size) bytes"
        case .variableString: "variable-length string"
        case .enumeration(_, let names, _): "enum of \(names.count) members"
        case .otherFloat(let size): "\(size)-byte float of a layout other than IEEE binary16, 32 or 64"
        case .other(let name, _): name
        }
    }

    private static let classNames = [
        0: "integer", 1: "float", 2: "time", 3: "string", 4: "bitfield", 5: "opaque", 6: "compound",
        7: "reference", 8: "enum", 9: "variable-length sequence", 10: "array", 11: "complex",
    ]

    /// Decodes a datatype message from `cursor`, leaving it after the type's properties.
    init(_ cursor: inout HDF5Cursor, reader: HDF5Reader, at address: UInt64, object: String, depth: Int = 0) throws {
        func damaged(_ detail: String) -> RNNFormatError { reader.damaged("datatype message", at: address, object: object, detail) }
        guard depth < 8 else { throw damaged("datatypes nested more than 8 deep") }
        let classAndVersion = try cursor.u8("class and version")
        let version = Int(classAndVersion >> 4)
        let typeClass = Int(classAndVersion & 0x0F)
        guard (1...5).contains(version) else { throw damaged("version \(version) (expected 1 to 5)") }
        let bits = try cursor.uint(3, "class bit fields")
        let size = try cursor.int(4, "size")
        let bigEndian = bits & 0x01 != 0
        switch typeClass {
        case 0:
            let offset = try cursor.u16("bit offset")
            let precision = try cursor.u16("bit precision")
            guard (1...8).contains(size), offset == 0, Int(precision) == size * 8 else {
                self = .other("integer of \(size) bytes with \(precision)-bit precision at bit \(offset)", size: size)
                return
            }
            self = .integer(size: size, signed: bits & 0x08 != 0, bigEndian: bigEndian)
        case 1:
            let offset = try cursor.u16("bit offset")
            let precision = try cursor.u16("bit precision")
            let fields = [try cursor.u8("exponent location"), try cursor.u8("exponent size"),
                          try cursor.u8("mantissa location"), try cursor.u8("mantissa size")].map(Int.init)
            let bias = try cursor.u32("exponent bias")
            let sign = Int((bits >> 8) & 0xFF)
            let normalization = (bits >> 4) & 0x03
            let vax = bits & 0x40 != 0
            let ieee: [Int: [Int]] = [2: [15, 10, 5, 0, 10, 15], 4: [31, 23, 8, 0, 23, 127], 8: [63, 52, 11, 0, 52, 1023]]
            guard let layout = ieee[size], layout == [sign] + fields + [Int(bias)], offset == 0,
                  Int(precision) == size * 8, normalization == 2, !vax
            else {
                self = .otherFloat(size: size)
                return
            }
            self = .float(size: size, bigEndian: bigEndian)
        case 3:
            self = .string(size: size, padding: try Self.padding(Int(bits & 0x0F), damaged))
        case 8:
            let count = Int(bits & 0xFFFF)
            let base = try HDF5Datatype(&cursor, reader: reader, at: address, object: object, depth: depth + 1)
            guard case .integer(let baseSize, let signed, let baseBigEndian) = base, baseSize == size else {
                self = .other("enum of \(base.description)", size: size)
                return
            }
            guard count <= HDF5AttributeLimits.maxEnumMembers else {
                throw reader.refused(object, "enum of \(count) members (at most \(HDF5AttributeLimits.maxEnumMembers) allowed)")
            }
            var names: [String] = []
            for _ in 0..<count {
                let start = cursor.position
                var name: [UInt8] = []
                while true {
                    let byte = try cursor.u8("enum member name")
                    if byte == 0 { break }
                    name.append(byte)
                }
                if version < 3 {
                    let used = cursor.position - start
                    try cursor.skip((8 - used % 8) % 8, "enum member name padding")
                }
                names.append(String(decoding: name, as: UTF8.self))
            }
            var values: [Int64] = []
            for _ in 0..<count {
                var raw = Array(try cursor.take(size, "enum member value"))
                if baseBigEndian { raw.reverse() }
                let value = raw.littleEndian(at: 0, width: size)
                let shift = UInt64(64 - 8 * size)
                values.append(signed && size < 8 ? Int64(bitPattern: value << shift) >> Int64(shift) : Int64(bitPattern: value))
            }
            self = .enumeration(base: base, names: names, values: values)
        case 9:
            let isString = bits & 0x0F == 1
            let padding = try Self.padding(Int((bits >> 4) & 0x0F), damaged)
            // The base type (characters of a string) follows; read past it.
            _ = try HDF5Datatype(&cursor, reader: reader, at: address, object: object, depth: depth + 1)
            guard isString else {
                self = .other("variable-length sequence", size: size)
                return
            }
            // Each element is a heap reference: length, collection address, object index.
            guard size == 4 + reader.offsetSize + 4 else {
                throw damaged("a variable-length string of \(size) bytes per element (a heap reference takes \(8 + reader.offsetSize))")
            }
            self = .variableString(padding: padding)
        default:
            // Properties of the other classes are not needed: every use of them is refused, and
            // attribute messages give each part's size.
            self = .other(Self.classNames[typeClass] ?? "datatype class \(typeClass)", size: size)
        }
    }

    private static func padding(_ code: Int, _ damaged: (String) -> RNNFormatError) throws -> HDF5StringPadding {
        switch code {
        case 0: return .nullTerminated
        case 1: return .nullPadded
        case 2: return .spacePadded
        default: throw damaged("string padding \(code) (expected 0, 1 or 2)")
        }
    }
}

/// A dataset's filter pipeline: the filters applied on writing, in order.
struct HDF5FilterPipeline: Equatable {
    struct Filter: Equatable {
        var id: Int
        var name: String
        var optional: Bool
        var values: [UInt32]
    }
    var filters: [Filter] = []

    init() {}

    init(_ data: [UInt8], reader: HDF5Reader, at address: UInt64, object: String) throws {
        func damaged(_ detail: String) -> RNNFormatError { reader.damaged("filter pipeline message", at: address, object: object, detail) }
        var cursor = reader.cursor(data, "filter pipeline message", at: address, object: object)
        let version = try cursor.u8("version")
        guard version == 1 || version == 2 else { throw damaged("version \(version) (expected 1 or 2)") }
        let count = Int(try cursor.u8("number of filters"))
        guard count <= 32 else { throw damaged("\(count) filters (HDF5 allows at most 32)") }
        if version == 1 { try cursor.skip(6, "reserved bytes") }
        for _ in 0..<count {
            let id = Int(try cursor.u16("filter id"))
            let nameLength = version == 1 || id >= 256 ? Int(try cursor.u16("filter name length")) : 0
            let flags = try cursor.u16("filter flags")
            let valueCount = Int(try cursor.u16("number of client data values"))
            var name = ""
            if nameLength > 0 {
                let raw = try cursor.take(nameLength, "filter name")
                name = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            let values = try (0..<valueCount).map { _ in try cursor.u32("client data") }
            if version == 1 && valueCount % 2 == 1 { try cursor.skip(4, "client data padding") }
            filters.append(Filter(id: id, name: name, optional: flags & 0x01 != 0, values: values))
        }
    }
}

/// A fill value: the bytes of one element, or nil for the default (zeros).
struct HDF5FillValue: Equatable {
    var bytes: [UInt8]?

    /// From the new (type 5) message when it defines a value, else the old (type 4) message.
    init(new: HDF5Message?, old: HDF5Message?, reader: HDF5Reader, object: String) throws {
        bytes = nil
        if let new {
            func damaged(_ detail: String) -> RNNFormatError { reader.damaged("fill value message", at: new.address, object: object, detail) }
            var cursor = reader.cursor(new.data, "fill value message", at: new.address, object: object)
            let version = try cursor.u8("version")
            var defined: Bool
            switch version {
            case 1, 2:
                try cursor.skip(2, "allocation and write times")
                defined = try cursor.u8("fill value defined") != 0
                if version == 1 || defined {
                    let size = try cursor.int(4, "size")
                    let value = Array(try cursor.take(size, "fill value"))
                    defined = defined && size > 0
                    if defined { bytes = value }
                }
            case 3:
                let flags = try cursor.u8("flags")
                defined = flags & 0x20 != 0
                if defined {
                    let size = try cursor.int(4, "size")
                    let value = Array(try cursor.take(size, "fill value"))
                    if size > 0 { bytes = value }
                }
            default:
                throw damaged("version \(version) (expected 1, 2 or 3)")
            }
            if bytes != nil { return }
        }
        if let old {
            var cursor = reader.cursor(old.data, "fill value message", at: old.address, object: object)
            let size = try cursor.int(4, "size")
            let value = Array(try cursor.take(size, "fill value"))
            if size > 0 { bytes = value }
        }
    }
}

/// Where a dataset's elements are.
enum HDF5Storage: Equatable, Sendable {
    /// In the layout message itself.
    case compact([UInt8])
    /// One run of bytes in the file (address nil: never written; size nil: the dataspace's, as
    /// layout versions 1 and 2 do not store it).
    case contiguous(address: UInt64?, size: Int?)
    /// Chunks of `chunkDims` elements, found through `index`.
    case chunked(HDF5ChunkLayout)
}

/// A chunked layout: chunk shape and the index that finds each chunk.
struct HDF5ChunkLayout: Equatable, Sendable {
    enum Index: Equatable, Sendable {
        /// Layout version 1-3: a version 1 B-tree of chunks.
        case btree1
        /// One chunk holding the whole dataset; `filteredSize` and `filterMask` when filtered.
        case single(filteredSize: Int?, filterMask: UInt32)
        /// Chunks stored one after another in chunk order, all allocated.
        case implicit
        case fixedArray(pageBits: Int)
        case extensibleArray(maxBits: Int, indexElements: Int, minPointers: Int, minElements: Int, pageBits: Int)
        case btree2(nodeSize: Int)
    }
    /// Elements per chunk in each dimension (the dataset's rank).
    var chunkDims: [Int]
    var index: Index
    /// Address of the index (or of the chunk data for single and implicit); nil when no chunk
    /// was ever written.
    var address: UInt64?
    /// Layout version 4 flag: edge chunks are stored unfiltered.
    var unfilteredEdges: Bool
}

extension HDF5Storage {
    /// Decodes a data layout message (versions 1 to 4; virtual layouts are refused).
    ///
    /// - Parameters:
    ///   - rank: the dataspace's rank, which a chunked layout must match.
    init(_ data: [UInt8], rank: Int, reader: HDF5Reader, at address: UInt64, object: String) throws {
        func damaged(_ detail: String) -> RNNFormatError { reader.damaged("data layout message", at: address, object: object, detail) }
        var cursor = reader.cursor(data, "data layout message", at: address, object: object)
        let version = try cursor.u8("version")
        switch version {
        case 1, 2:
            let dimensionality = Int(try cursor.u8("dimensionality"))
            let layoutClass = try cursor.u8("layout class")
            try cursor.skip(5, "reserved bytes")
            let dataAddress = layoutClass == 0 ? nil : try cursor.address("data address")
            let dims = try (0..<dimensionality).map { _ in try cursor.int(4, "dimension size") }
            switch layoutClass {
            case 0:
                let size = try cursor.int(4, "compact data size")
                self = .compact(Array(try cursor.take(size, "compact data")))
            case 1:
                self = .contiguous(address: dataAddress, size: nil)
            case 2:
                self = .chunked(try Self.chunks(Array(dims), rank: rank, index: .btree1, address: dataAddress, unfilteredEdges: false, damaged))
            default:
                throw damaged("layout class \(layoutClass) (expected 0 compact, 1 contiguous or 2 chunked)")
            }
        case 3, 4, 5:
            let layoutClass = try cursor.u8("layout class")
            switch layoutClass {
            case 0:
                let size = Int(try cursor.u16("compact data size"))
                self = .compact(Array(try cursor.take(size, "compact data")))
            case 1:
                let dataAddress = try cursor.address("data address")
                self = .contiguous(address: dataAddress, size: try cursor.length("data size"))
            case 2 where version == 3:
                let dimensionality = Int(try cursor.u8("dimensionality"))
                let dataAddress = try cursor.address("B-tree address")
                let dims = try (0..<dimensionality).map { _ in try cursor.int(4, "chunk dimension") }
                self = .chunked(try Self.chunks(dims, rank: rank, index: .btree1, address: dataAddress, unfilteredEdges: false, damaged))
            case 2:
                let flags = try cursor.u8("flags")
                guard flags & ~0x03 == 0 else { throw damaged("unknown chunk flags \(hex(flags))") }
                let dimensionality = Int(try cursor.u8("dimensionality"))
                let width = Int(try cursor.u8("dimension size encoded length"))
                guard (1...8).contains(width) else { throw damaged("dimension sizes of \(width) bytes") }
                let dims = try (0..<dimensionality).map { _ in try cursor.int(width, "chunk dimension") }
                let indexType = try cursor.u8("chunk index type")
                let index: HDF5ChunkLayout.Index
                switch indexType {
                case 1:
                    if flags & 0x02 != 0 {
                        index = .single(filteredSize: try cursor.length("filtered chunk size"), filterMask: try cursor.u32("filter mask"))
                    } else {
                        index = .single(filteredSize: nil, filterMask: 0)
                    }
                case 2:
                    index = .implicit
                case 3:
                    index = .fixedArray(pageBits: Int(try cursor.u8("page bits")))
                case 4:
                    index = .extensibleArray(maxBits: Int(try cursor.u8("maximum bits")), indexElements: Int(try cursor.u8("index elements")),
                                             minPointers: Int(try cursor.u8("minimum pointers")), minElements: Int(try cursor.u8("minimum elements")),
                                             pageBits: Int(try cursor.u8("page bits")))
                case 5:
                    let nodeSize = try cursor.int(4, "node size")
                    try cursor.skip(2, "split and merge percents")
                    index = .btree2(nodeSize: nodeSize)
                default:
                    throw damaged("chunk index type \(indexType) (expected 1 to 5)")
                }
                let indexAddress = try cursor.address("chunk index address")
                self = .chunked(try Self.chunks(dims, rank: rank, index: index, address: indexAddress, unfilteredEdges: flags & 0x01 != 0, damaged))
            case 3:
                throw reader.refused(object, "virtual dataset refused (its data would come from other datasets or files)")
            default:
                throw damaged("layout class \(layoutClass) (expected 0 to 3)")
            }
        default:
            throw damaged("version \(version) (expected 1 to 5)")
        }
    }

    /// A chunk layout from stored dimensions: the dataset's rank plus the element size last.
    private static func chunks(_ dims: [Int], rank: Int, index: HDF5ChunkLayout.Index, address: UInt64?, unfilteredEdges: Bool,
                               _ damaged: (String) -> RNNFormatError) throws -> HDF5ChunkLayout {
        guard dims.count == rank + 1 else {
            throw damaged("\(dims.count) chunk dimensions for a dataset of rank \(rank) (expected \(rank + 1))")
        }
        let chunkDims = Array(dims.prefix(rank))
        guard chunkDims.allSatisfy({ $0 > 0 }) else { throw damaged("a chunk dimension of 0 in \(chunkDims)") }
        return HDF5ChunkLayout(chunkDims: chunkDims, index: index, address: address, unfilteredEdges: unfilteredEdges)
    }
}
