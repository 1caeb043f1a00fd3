/// Limits of the restricted reading profile (spec/FORMAT.md "Security").
public enum HDF5ProfileLimits {
    /// Nesting of groups below the root.
    public static let maxDepth = 32
    /// Groups, datasets and links together.
    public static let maxObjects = 100_000
    /// Rank of any dataset (RNN tensors are further held to 2 for weights, 1 for biases).
    public static let maxRank = 8
    /// Elements of one dataset.
    public static let maxElements = 1 << 31
    /// A compressed dataset may declare at most this many times the bytes it stores. Deflate
    /// cannot exceed about 1032:1, so honest data stays below.
    public static let maxCompressionRatio = 1100
    /// Length of a link or attribute name in bytes.
    public static let maxNameBytes = 1024
    /// All metadata read from one file: object headers, B-trees, heaps, chunk indexes.
    public static let maxMetadataBytes = 256 << 20
    /// One global heap collection (where variable-length strings live).
    public static let maxGlobalHeapBytes = 16 << 20
    /// One chunk before filtering: at most this, or the whole dataset when that is larger.
    public static let maxChunkBytes = 64 << 20
    /// Chunks and messages of one object header.
    static let maxHeaderChunks = 1024
    static let maxHeaderMessages = 4096
}

/// How a dataset stores its elements, as far as the profile allows.
enum HDF5Element: Equatable {
    /// IEEE float of 2, 4 or 8 bytes, either byte order.
    case float(bytes: Int)
    /// Integer of 1 to 8 bytes, either byte order and sign.
    case integer(bytes: Int, signed: Bool)

    /// The spec's element type, when this is one of them.
    var elementType: ElementType? {
        switch self {
        case .float(2): .float16
        case .float(4): .float32
        case .float(8): .float64
        case .integer(1, true): .int8
        default: nil
        }
    }

    var byteWidth: Int {
        switch self {
        case .float(let b), .integer(let b, _): b
        }
    }

    var description: String {
        switch self {
        case .float(let b): "float\(b * 8)"
        case .integer(let b, let signed): "\(signed ? "" : "u")int\(b * 8)"
        }
    }
}

/// What the profile walk saw: every group and dataset, checked, with its attributes decoded and
/// its data located, before any tensor data is read.
struct HDF5Catalog {
    struct Group {
        var path: String
        var attributes: [HDF5Attribute]
        var groups: [String]
        var datasets: [String]
    }

    struct Dataset {
        var path: String
        var group: String
        var name: String
        var shape: [Int]
        var element: HDF5Element
        var attributes: [HDF5Attribute]
        var plan: HDF5DataPlan

        var declaredBytes: Int { plan.byteCount }
    }

    /// Groups in walk order, the root first.
    var groups: [Group] = []
    /// Datasets in walk order.
    var datasets: [Dataset] = []
}

extension [HDF5Attribute] {
    /// The attribute named `name`.
    subscript(named name: String) -> HDF5Attribute? { first { $0.name == name } }
    var names: [String] { map(\.name) }
}

/// Joins an HDF5 group path and a link name.
package func hdf5Path(_ group: String, _ name: String) -> String {
    group == "/" ? "/" + name : group + "/" + name
}

extension HDF5Reader {
    /// Walks the whole file from the root group and enforces the restricted reading profile.
    ///
    /// Refuses soft, external and user-defined links, objects reached twice (hard-link loops and
    /// aliases), named datatypes, shared messages, external storage, virtual datasets, filters
    /// other than deflate, shuffle and fletcher32, non-numeric datasets, and anything beyond
    /// `HDF5ProfileLimits`; compares each dataset's declared bytes with what it stores. Reads
    /// metadata only.
    ///
    /// - Throws: `RNNFormatError` with `.refused` or `.unsupportedType` naming the object, or
    ///   `.malformed` for damage.
    func catalog() throws -> HDF5Catalog {
        var walk = ProfileWalk(reader: self)
        let root = try HDF5ObjectHeader(reader: self, address: rootAddress, object: "/")
        walk.visited[rootAddress] = "/"
        try walk.visitGroup(root, path: "/", depth: 0)
        return walk.catalog
    }
}

private struct ProfileWalk {
    let reader: HDF5Reader
    var catalog = HDF5Catalog()
    var visited: [UInt64: String] = [:]
    var objects = 0

    init(reader: HDF5Reader) { self.reader = reader }

    func refuse(_ object: String, _ message: String) -> RNNFormatError { reader.refused(object, message) }

    /// Refuses messages that a reader must understand and this one does not.
    func checkMessages(_ header: HDF5ObjectHeader, object: String) throws {
        for message in header.messages where message.kind == nil && message.failIfUnknown {
            throw refuse(object, "object header message of unknown type \(message.type), which readers must understand, refused")
        }
    }

    mutating func visitGroup(_ header: HDF5ObjectHeader, path: String, depth: Int) throws {
        guard depth <= HDF5ProfileLimits.maxDepth else {
            throw refuse(path, "groups nested deeper than \(HDF5ProfileLimits.maxDepth) levels")
        }
        try checkMessages(header, object: path)
        let attributes = try reader.attributes(of: header, object: path)
        let links = try reader.links(of: header, object: path).sorted { $0.name < $1.name }
        guard links.count <= HDF5ProfileLimits.maxObjects - objects else {
            throw refuse(path, "more than \(HDF5ProfileLimits.maxObjects) objects in the file")
        }
        var entry = HDF5Catalog.Group(path: path, attributes: attributes, groups: [], datasets: [])
        let groupIndex = catalog.groups.count
        catalog.groups.append(entry)
        var names = Set<String>()
        for link in links {
            objects += 1
            let child = hdf5Path(path, link.name)
            guard names.insert(link.name).inserted else {
                throw reader.damaged("group", at: header.address, object: path, "two links named \(link.name.debugDescription)")
            }
            let address: UInt64
            switch link.target {
            case .hard(let target): address = target
            case .soft: throw refuse(child, "soft link refused (the profile allows hard links only)")
            case .external: throw refuse(child, "external link refused (it points into another file)")
            case .userDefined: throw refuse(child, "user-defined link refused (the profile allows hard links only)")
            }
            if let first = visited[address] {
                throw refuse(child, "hard link to an object already reached as \(first) (loops and aliases are refused)")
            }
            visited[address] = child
            let object = try HDF5ObjectHeader(reader: reader, address: address, object: child)
            if !object.messages(.layout).isEmpty {
                entry.datasets.append(link.name)
                try visitDataset(object, path: child, group: path, name: link.name)
            } else if !object.messages(.linkInfo).isEmpty || !object.messages(.symbolTable).isEmpty {
                entry.groups.append(link.name)
                try visitGroup(object, path: child, depth: depth + 1)
            } else if !object.messages(.datatype).isEmpty {
                throw refuse(child, "named datatype refused (the profile allows groups and datasets only)")
            } else {
                throw refuse(child, "object of unknown type refused")
            }
        }
        catalog.groups[groupIndex].groups = entry.groups
        catalog.groups[groupIndex].datasets = entry.datasets
    }

    mutating func visitDataset(_ header: HDF5ObjectHeader, path: String, group: String, name: String) throws {
        try checkMessages(header, object: path)
        let attributes = try reader.attributes(of: header, object: path)
        if !header.messages(.externalFiles).isEmpty {
            throw refuse(path, "external storage refused (data kept in other files)")
        }
        func required(_ type: HDF5MessageType) throws -> HDF5Message {
            guard let message = try header.single(type, reader: reader, object: path) else {
                throw reader.damaged("dataset", at: header.address, object: path, "no \(type) message")
            }
            guard !message.isShared else {
                throw refuse(path, "shared (committed) \(type) message refused")
            }
            return message
        }
        let spaceMessage = try required(.dataspace)
        let typeMessage = try required(.datatype)
        let layoutMessage = try required(.layout)
        let space = try HDF5Dataspace(spaceMessage.data, reader: reader, at: spaceMessage.address, object: path)
        guard space.kind != .null else {
            throw RNNFormatError(.unsupportedType, file: reader.name, object: path, "expected a tensor, found a dataset with a null (empty) dataspace")
        }
        guard space.dims.count <= HDF5ProfileLimits.maxRank else {
            throw refuse(path, "rank \(space.dims.count) (at most \(HDF5ProfileLimits.maxRank) allowed)")
        }
        guard let elements = space.elementCount(), elements <= HDF5ProfileLimits.maxElements else {
            throw refuse(path, "shape \(space.dims) declares more than \(HDF5ProfileLimits.maxElements) elements")
        }
        var typeCursor = reader.cursor(typeMessage.data, "datatype message", at: typeMessage.address, object: path)
        let type = try HDF5Datatype(&typeCursor, reader: reader, at: typeMessage.address, object: path)
        let element: HDF5Element
        let bigEndian: Bool
        switch type {
        case .integer(let size, let signed, let big):
            element = .integer(bytes: size, signed: signed)
            bigEndian = big
        case .float(let size, let big):
            element = .float(bytes: size)
            bigEndian = big
        case .otherFloat:
            throw RNNFormatError(.unsupportedType, file: reader.name, object: path, "expected an IEEE float16, float32 or float64 tensor, found a \(type.description)")
        default:
            throw RNNFormatError(.unsupportedType, file: reader.name, object: path,
                                 "expected a float or int8 tensor, found a dataset of type \(type.description)")
        }
        var pipeline = HDF5FilterPipeline()
        if let message = try header.single(.filterPipeline, reader: reader, object: path) {
            guard !message.isShared else { throw refuse(path, "shared (committed) filter pipeline message refused") }
            pipeline = try HDF5FilterPipeline(message.data, reader: reader, at: message.address, object: path)
        }
        for filter in pipeline.filters where !HDF5Filters.allowed.contains(filter.id) {
            throw refuse(path, "filter \(HDF5Filters.name(filter.id, stored: filter.name)) (id \(filter.id)) refused; allowed: deflate, shuffle, fletcher32")
        }
        let newFill = try header.single(.fillValue, reader: reader, object: path)
        let oldFill = try header.single(.fillValueOld, reader: reader, object: path)
        if newFill?.isShared == true || oldFill?.isShared == true { throw refuse(path, "shared (committed) fill value message refused") }
        let fill = try HDF5FillValue(new: newFill, old: oldFill, reader: reader, object: path)
        if let bytes = fill.bytes, bytes.count != element.byteWidth {
            throw reader.damaged("fill value message", at: newFill?.address ?? oldFill?.address, object: path,
                                 "a fill value of \(bytes.count) bytes for elements of \(element.byteWidth)")
        }
        let declared = elements * element.byteWidth
        let storage = try HDF5Storage(layoutMessage.data, rank: space.dims.count, reader: reader, at: layoutMessage.address, object: path)
        let source = try dataSource(storage, space: space, element: element, filters: pipeline, declared: declared, path: path)
        let plan = HDF5DataPlan(source: source, shape: space.dims, elementSize: element.byteWidth, bigEndian: bigEndian,
                                fill: fill.bytes, byteCount: declared)
        try checkStoredBytes(plan, layout: storage, filtered: !pipeline.filters.isEmpty, path: path)
        catalog.datasets.append(HDF5Catalog.Dataset(path: path, group: group, name: name, shape: space.dims, element: element,
                                                    attributes: attributes, plan: plan))
    }

    /// Locates a dataset's bytes: checks the layout against the dataspace and the file, and reads
    /// a chunked dataset's index.
    func dataSource(_ storage: HDF5Storage, space: HDF5Dataspace, element: HDF5Element, filters: HDF5FilterPipeline,
                    declared: Int, path: String) throws -> HDF5DataPlan.Source {
        switch storage {
        case .compact(let bytes):
            guard bytes.count == declared else {
                throw refuse(path, "shape \(space.dims) of \(element.description) declares \(declared) bytes, but the dataset stores \(bytes.count)")
            }
            return .bytes(bytes)
        case .contiguous(let address, let size):
            guard let address else {
                guard declared > 0 else { return .fill }
                throw refuse(path, "shape \(space.dims) of \(element.description) declares \(declared) bytes, but the dataset stores 0")
            }
            if let size, size != declared {
                throw refuse(path, "shape \(space.dims) of \(element.description) declares \(declared) bytes, but the dataset stores \(size)")
            }
            guard let offset = reader.offset(of: address, count: declared) else {
                throw refuse(path, "data at offset \(address) of \(declared) bytes lies beyond the end of the file (\(reader.source.size) bytes)")
            }
            return .run(offset: offset)
        case .chunked(let layout):
            guard !space.dims.isEmpty, space.kind == .simple else {
                throw reader.damaged("data layout message", at: nil, object: path, "a chunked layout for a scalar dataset")
            }
            for (d, chunk) in layout.chunkDims.enumerated() {
                if let limit = space.maxDims[d], chunk > limit {
                    throw refuse(path, "chunk dimensions \(layout.chunkDims) larger than the dataset's fixed maximum shape")
                }
            }
            var chunkBytes = element.byteWidth
            for dim in layout.chunkDims {
                let (product, overflow) = chunkBytes.multipliedReportingOverflow(by: dim)
                guard !overflow, product <= max(HDF5ProfileLimits.maxChunkBytes, declared) else {
                    throw refuse(path, "chunks of \(layout.chunkDims) elements: more than \(max(HDF5ProfileLimits.maxChunkBytes, declared)) bytes each")
                }
                chunkBytes = product
            }
            let index = HDF5ChunkIndex(reader: reader, object: path, layout: layout, dims: space.dims, maxDims: space.maxDims,
                                       elementSize: element.byteWidth, chunkBytes: chunkBytes, filtered: !filters.filters.isEmpty)
            return .chunks(try index.chunks(), chunkDims: layout.chunkDims, filters: filters.filters, unfilteredEdges: layout.unfilteredEdges)
        }
    }

    /// Declared versus stored bytes: refuses shape and compression bombs before any allocation.
    func checkStoredBytes(_ plan: HDF5DataPlan, layout: HDF5Storage, filtered: Bool, path: String) throws {
        let declared = plan.byteCount
        let stored = plan.storedBytes
        let fileSize = reader.source.size
        guard stored <= fileSize else {
            throw refuse(path, "stores \(stored) bytes, more than the file's \(fileSize) bytes")
        }
        guard declared > 0, case .chunked = layout else { return }
        guard stored > 0 else {
            throw refuse(path, "shape \(plan.shape) declares \(declared) bytes, but no chunk is stored")
        }
        if !filtered {
            guard stored >= declared else {
                throw refuse(path, "shape \(plan.shape) declares \(declared) bytes, but its uncompressed chunks store only \(stored)")
            }
        } else {
            guard declared / HDF5ProfileLimits.maxCompressionRatio <= stored else {
                throw refuse(path, "shape \(plan.shape) declares \(declared) bytes from \(stored) stored bytes (more than \(HDF5ProfileLimits.maxCompressionRatio):1; shape bomb)")
            }
        }
    }
}
