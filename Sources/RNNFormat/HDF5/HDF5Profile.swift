import CHDF5

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
    /// Length of a link name in bytes.
    public static let maxNameBytes = 1024
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

/// What the profile walk saw: every group and dataset, checked, before any data is read.
struct HDF5Catalog {
    struct Group {
        var path: String
        var attributes: [String]
        var groups: [String]
        var datasets: [String]
    }

    struct Dataset {
        var path: String
        var group: String
        var name: String
        var shape: [Int]
        var element: HDF5Element
        var attributes: [String]
        var declaredBytes: Int
        /// File bytes of a contiguous dataset's data.
        var dataRange: Range<Int>?
    }

    /// Groups in walk order, the root first.
    var groups: [Group] = []
    /// Datasets in walk order.
    var datasets: [Dataset] = []
}

/// Joins an HDF5 group path and a link name.
func hdf5Path(_ group: String, _ name: String) -> String {
    group == "/" ? "/" + name : group + "/" + name
}

extension HDF5Session {
    /// Walks the whole file and enforces the restricted reading profile.
    ///
    /// Refuses soft, external and user-defined links, objects reached twice (hard-link loops and
    /// aliases), named datatypes, external storage, virtual datasets, filters other than
    /// deflate, shuffle and fletcher32, non-numeric datasets, and anything beyond
    /// `HDF5ProfileLimits`; compares each dataset's declared bytes with what it stores.
    /// Reads metadata only.
    ///
    /// - Throws: `RNNFormatError` with `.refused` or `.unsupportedType` naming the object.
    func walkProfile(_ fileID: hid_t, structure: HDF5StructureCheck?) throws -> HDF5Catalog {
        var size: hsize_t = 0
        try status("H5Fget_filesize") { H5Fget_filesize(fileID, &size) }
        var walk = ProfileWalk(session: self, fileSize: Int(clamping: size), structure: structure)
        var root = chdf5_object_info_t()
        try status("H5Oget_info", object: "/") { chdf5_object_info(fileID, "/", &root) }
        walk.visited[identity(root)] = "/"
        try withGroup(fileID, "/", object: "/") { try walk.visitGroup($0, path: "/", depth: 0) }
        return walk.catalog
    }

    fileprivate func identity(_ info: chdf5_object_info_t) -> [UInt8] {
        withUnsafeBytes(of: info.identity) { Array($0) }
    }
}

private struct ProfileWalk {
    let session: HDF5Session
    let fileSize: Int
    /// Checks each object header before libhdf5 decodes it (nil when the file has no
    /// superblock the check can read; libhdf5 then refuses the file itself).
    let structure: HDF5StructureCheck?
    var catalog = HDF5Catalog()
    var visited: [[UInt8]: String] = [:]
    var objects = 0

    init(session: HDF5Session, fileSize: Int, structure: HDF5StructureCheck?) {
        self.session = session
        self.fileSize = fileSize
        self.structure = structure
    }

    func refuse(_ object: String, _ message: String) -> RNNFormatError {
        RNNFormatError(.refused, file: session.file, object: object, message)
    }

    mutating func visitGroup(_ group: hid_t, path: String, depth: Int) throws {
        guard depth <= HDF5ProfileLimits.maxDepth else {
            throw refuse(path, "groups nested deeper than \(HDF5ProfileLimits.maxDepth) levels")
        }
        let attributes = try checkedAttributes(group, object: path)
        var info = H5G_info_t()
        try session.status("H5Gget_info", object: path) { H5Gget_info(group, &info) }
        guard Int(clamping: info.nlinks) <= HDF5ProfileLimits.maxObjects - objects else {
            throw refuse(path, "more than \(HDF5ProfileLimits.maxObjects) objects in the file")
        }
        var entry = HDF5Catalog.Group(path: path, attributes: attributes, groups: [], datasets: [])
        let groupIndex = catalog.groups.count
        catalog.groups.append(entry)
        for index in 0..<Int(info.nlinks) {
            objects += 1
            let name = try linkName(group, index: index, object: path)
            let child = hdf5Path(path, name)
            switch chdf5_link_type(group, name) {
            case H5L_TYPE_HARD:
                break
            case H5L_TYPE_SOFT:
                throw refuse(child, "soft link refused (the profile allows hard links only)")
            case H5L_TYPE_EXTERNAL:
                throw refuse(child, "external link refused (it points into another file)")
            case H5L_TYPE_ERROR:
                throw session.error("H5Lget_info", object: child)
            default:
                throw refuse(child, "user-defined link refused (the profile allows hard links only)")
            }
            // The target's header is checked before libhdf5 loads it for H5Oget_info.
            var target = [UInt8](repeating: 0, count: 16)
            try session.status("H5Lget_info", object: child) { chdf5_link_target(group, name, &target) }
            try structure?.checkObjectHeader(address: HDF5StructureCheck.integer(target.prefix(8)), object: child)
            var info = chdf5_object_info_t()
            try session.status("H5Oget_info_by_name", object: child) { chdf5_object_info(group, name, &info) }
            let id = session.identity(info)
            if let first = visited[id] {
                throw refuse(child, "hard link to an object already reached as \(first) (loops and aliases are refused)")
            }
            visited[id] = child
            switch info.type {
            case H5O_TYPE_GROUP:
                entry.groups.append(name)
                try session.withGroup(group, name, object: child) { sub in
                    try visitGroup(sub, path: child, depth: depth + 1)
                }
            case H5O_TYPE_DATASET:
                entry.datasets.append(name)
                try session.withDataset(group, name, object: child) { dataset in
                    try visitDataset(dataset, path: child, group: path, name: name)
                }
            case H5O_TYPE_NAMED_DATATYPE:
                throw refuse(child, "named datatype refused (the profile allows groups and datasets only)")
            default:
                throw refuse(child, "object of unknown type refused")
            }
        }
        catalog.groups[groupIndex].groups = entry.groups
        catalog.groups[groupIndex].datasets = entry.datasets
    }

    func linkName(_ group: hid_t, index: Int, object: String) throws -> String {
        let length = try session.count("H5Lget_name_by_idx", object: object) {
            H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), nil, 0, chdf5_p_default())
        }
        guard length <= HDF5ProfileLimits.maxNameBytes else {
            throw refuse(object, "link name of \(length) bytes (at most \(HDF5ProfileLimits.maxNameBytes) allowed)")
        }
        var buffer = [CChar](repeating: 0, count: length + 1)
        _ = try session.count("H5Lget_name_by_idx", object: object) {
            H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), &buffer, buffer.count, chdf5_p_default())
        }
        let name = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // Names end up in one-line messages and in state_dict keys.
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw refuse(object, "link name \(name.debugDescription) with control characters refused")
        }
        return name
    }

    /// The attribute names of an object, each checked against the caps.
    ///
    /// Known names are looked up one by one (`H5Aexists`); the object's attribute table is
    /// enumerated only when it holds attributes beyond those, because libhdf5 1.10 can crash
    /// while cleaning up a table with a damaged attribute message (found by fuzzing), where
    /// the lookup by name reports an error.
    func checkedAttributes(_ owner: hid_t, object: String) throws -> [String] {
        let count = try session.count("H5Aget_num_attrs", object: object) { H5Aget_num_attrs(owner) }
        guard count <= HDF5AttributeLimits.maxPerObject else {
            throw refuse(object, "expected at most \(HDF5AttributeLimits.maxPerObject) attributes, found \(count)")
        }
        guard count > 0 else { return [] }
        var names: [String] = []
        for name in HDF5Layout.knownAttributes {
            if try session.truth("H5Aexists", object: object, { H5Aexists(owner, name) }) {
                names.append(name)
            }
        }
        if names.count < count {
            names = try session.attributeNames(owner, object: object)
        }
        for name in names {
            try session.checkAttribute(owner, name, object: object)
        }
        return names
    }

    mutating func visitDataset(_ dataset: hid_t, path: String, group: String, name: String) throws {
        let attributes = try checkedAttributes(dataset, object: path)
        let shape = try session.withDatasetSpace(dataset, object: path) { space -> [Int] in
            let kind = try session.spaceClass(space, object: path)
            if kind == H5S_SCALAR { return [] }
            guard kind == H5S_SIMPLE else {
                throw RNNFormatError(.unsupportedType, file: session.file, object: path, "expected a tensor, found a dataset with a null (empty) dataspace")
            }
            let rank = try session.count("H5Sget_simple_extent_ndims", object: path) { H5Sget_simple_extent_ndims(space) }
            guard rank <= HDF5ProfileLimits.maxRank else {
                throw refuse(path, "rank \(rank) (at most \(HDF5ProfileLimits.maxRank) allowed)")
            }
            var dims = [hsize_t](repeating: 0, count: rank)
            _ = try session.count("H5Sget_simple_extent_dims", object: path) { H5Sget_simple_extent_dims(space, &dims, nil) }
            return dims.map { Int(clamping: $0) }
        }
        var elements = 1
        for dim in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= HDF5ProfileLimits.maxElements else {
                throw refuse(path, "shape \(shape) declares more than \(HDF5ProfileLimits.maxElements) elements")
            }
            elements = product
        }
        let element = try session.withDatasetType(dataset, object: path) { type in
            try session.element(of: type, object: path)
        }
        let declared = elements * element.byteWidth
        var dataRange: Range<Int>? = nil
        try session.withDatasetCreationList(dataset, object: path) { plist in
            let external = try session.count("H5Pget_external_count", object: path) { H5Pget_external_count(plist) }
            guard external == 0 else {
                throw refuse(path, "external storage refused (data kept in \(external) other file(s))")
            }
            let layout = try session.call("H5Pget_layout", object: path, failed: { $0 == H5D_LAYOUT_ERROR }) { H5Pget_layout(plist) }
            guard layout != H5D_VIRTUAL else {
                throw refuse(path, HDF5StructureCheck.virtualDatasetRefusal)
            }
            guard layout == H5D_CONTIGUOUS || layout == H5D_CHUNKED || layout == H5D_COMPACT else {
                throw session.error("H5Pget_layout", object: path)
            }
            let filters = try session.count("H5Pget_nfilters", object: path) { H5Pget_nfilters(plist) }
            for index in 0..<filters {
                var flags: UInt32 = 0
                var count = 0
                var config: UInt32 = 0
                var filterName = [CChar](repeating: 0, count: 64)
                let id = try session.call("H5Pget_filter2", object: path, failed: { $0 < 0 }) {
                    H5Pget_filter2(plist, UInt32(index), &flags, &count, nil, filterName.count, &filterName, &config)
                }
                guard id == H5Z_FILTER_DEFLATE || id == H5Z_FILTER_SHUFFLE || id == H5Z_FILTER_FLETCHER32 else {
                    let label = String(decoding: filterName.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    throw refuse(path, "filter \(label.isEmpty ? "unnamed" : label) (id \(id)) refused; allowed: deflate, shuffle, fletcher32")
                }
            }
            guard declared > 0 else { return }
            // 0 means failure or nothing stored: refused below either way, as declared > 0.
            let stored = Int(clamping: H5Dget_storage_size(dataset))
            guard stored <= fileSize else {
                throw refuse(path, "stores \(stored) bytes, more than the file's \(fileSize) bytes")
            }
            switch layout {
            case H5D_CONTIGUOUS:
                guard stored == declared else {
                    throw refuse(path, "shape \(shape) of \(element.description) declares \(declared) bytes, but the dataset stores \(stored)")
                }
                let offset = H5Dget_offset(dataset)
                guard offset != chdf5_haddr_undef(), let start = Int(exactly: offset),
                      start <= fileSize, declared <= fileSize - start
                else {
                    throw refuse(path, "data at offset \(offset) of \(declared) bytes lies beyond the end of the file (\(fileSize) bytes)")
                }
                dataRange = start..<(start + declared)
            case H5D_COMPACT:
                guard stored == declared else {
                    throw refuse(path, "shape \(shape) of \(element.description) declares \(declared) bytes, but the dataset stores \(stored)")
                }
            default:
                guard stored > 0 else {
                    throw refuse(path, "shape \(shape) declares \(declared) bytes, but no chunk is stored")
                }
                if filters == 0 {
                    guard stored >= declared else {
                        throw refuse(path, "shape \(shape) declares \(declared) bytes, but its uncompressed chunks store only \(stored)")
                    }
                } else {
                    guard declared / HDF5ProfileLimits.maxCompressionRatio <= stored else {
                        throw refuse(path, "shape \(shape) declares \(declared) bytes from \(stored) stored bytes (more than \(HDF5ProfileLimits.maxCompressionRatio):1; shape bomb)")
                    }
                }
            }
        }
        catalog.datasets.append(HDF5Catalog.Dataset(
            path: path, group: group, name: name, shape: shape, element: element,
            attributes: attributes, declaredBytes: declared, dataRange: dataRange))
    }
}

extension HDF5Session {
    /// Classifies a dataset's datatype; only IEEE floats of 2, 4 or 8 bytes and integers of at
    /// most 8 bytes pass.
    ///
    /// - Throws: `.unsupportedType` naming the class or layout.
    func element(of type: hid_t, object: String) throws -> HDF5Element {
        let cls = try typeClass(type, object: object)
        let size = try call("H5Tget_size", object: object, failed: { $0 == 0 }) { H5Tget_size(type) }
        switch cls {
        case H5T_INTEGER:
            guard (1...8).contains(size) else {
                throw RNNFormatError(.unsupportedType, file: file, object: object, "expected a float or int8 tensor, found a \(size)-byte integer")
            }
            let sign = try call("H5Tget_sign", object: object, failed: { $0 == H5T_SGN_ERROR }) { H5Tget_sign(type) }
            return .integer(bytes: size, signed: sign == H5T_SGN_2)
        case H5T_FLOAT:
            var spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0
            try status("H5Tget_fields", object: object) { H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) }
            let ebias = try call("H5Tget_ebias", object: object, failed: { $0 == 0 }) { H5Tget_ebias(type) }
            let precision = try call("H5Tget_precision", object: object, failed: { $0 == 0 }) { H5Tget_precision(type) }
            let bitOffset = try call("H5Tget_offset", object: object, failed: { $0 < 0 }) { H5Tget_offset(type) }
            let ieee: [Int: (Int, Int, Int, Int, Int, Int)] = [
                2: (15, 10, 5, 0, 10, 15), 4: (31, 23, 8, 0, 23, 127), 8: (63, 52, 11, 0, 52, 1023),
            ]
            guard let layout = ieee[size], layout == (spos, epos, esize, mpos, msize, Int(ebias)),
                  precision == size * 8, bitOffset == 0
            else {
                throw RNNFormatError(.unsupportedType, file: file, object: object,
                                     "expected an IEEE float16, float32 or float64 tensor, found a \(size)-byte float of another layout")
            }
            return .float(bytes: size)
        default:
            throw RNNFormatError(.unsupportedType, file: file, object: object,
                                 "expected a float or int8 tensor, found a dataset of type class \(HDF5TypeClass.name(cls))")
        }
    }
}
