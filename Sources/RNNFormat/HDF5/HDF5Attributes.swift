import CHDF5

/// An attribute value as the reader understands it: the shapes h5py and our writer produce.
enum HDF5AttributeValue: Equatable {
    /// Any integer class and width, converted to Int64; scalar attributes give one element.
    case integers([Int64])
    /// Any float class and width, converted to Double.
    case floats([Double])
    /// A fixed-length or variable-length string (scalar or one element).
    case string(String)
    /// h5py's bool: an enum of int8 with members FALSE = 0 and TRUE = 1.
    case bool(Bool)

    /// What the value is, for messages.
    var summary: String {
        switch self {
        case .integers(let v): v.count == 1 ? "integer \(v[0])" : "\(v.count) integers"
        case .floats(let v): v.count == 1 ? "float \(v[0])" : "\(v.count) floats"
        case .string(let s): "string " + (s.count > 40 ? String(s.prefix(40)) + "..." : s).debugDescription
        case .bool(let b): "bool \(b)"
        }
    }
}

/// Caps on attributes (spec/FORMAT.md "Security"): libhdf5's compact attribute storage holds
/// at most 64 KiB, so no honest attribute is larger.
enum HDF5AttributeLimits {
    static let maxBytes = 64 * 1024
    static let maxElements = 16 * 1024
    static let maxPerObject = 256
}

extension HDF5Session {
    /// Names of the attributes of `owner`, in name order.
    func attributeNames(_ owner: hid_t, object: String) throws -> [String] {
        let count = try count("H5Aget_num_attrs", object: object) { H5Aget_num_attrs(owner) }
        guard count <= HDF5AttributeLimits.maxPerObject else {
            throw RNNFormatError(.refused, file: file, object: object,
                                 "expected at most \(HDF5AttributeLimits.maxPerObject) attributes, found \(count)")
        }
        var names: [String] = []
        for index in 0..<count {
            let length = try self.count("H5Aget_name_by_idx", object: object) {
                H5Aget_name_by_idx(owner, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), nil, 0, chdf5_p_default())
            }
            guard length <= 1024 else {
                throw RNNFormatError(.refused, file: file, object: object, "attribute name of \(length) bytes (at most 1024 allowed)")
            }
            var buffer = [CChar](repeating: 0, count: length + 1)
            _ = try self.count("H5Aget_name_by_idx", object: object) {
                H5Aget_name_by_idx(owner, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), &buffer, buffer.count, chdf5_p_default())
            }
            let name = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw RNNFormatError(.refused, file: file, object: object, "attribute name \(name.debugDescription) with control characters refused")
            }
            names.append(name)
        }
        return names
    }

    /// Checks an attribute against the profile's caps without reading its value.
    ///
    /// - Throws: `.refused` when too large, `.unsupportedType` for classes outside
    ///   integer, float, string and enum.
    func checkAttribute(_ owner: hid_t, _ name: String, object: String) throws {
        let place = "\(object) attribute \(name)"
        try withAttribute(owner, name, object: object) { attribute in
            let stored = try call("H5Aget_storage_size", object: place, failed: { _ in false }) { H5Aget_storage_size(attribute) }
            guard stored <= HDF5AttributeLimits.maxBytes else {
                throw RNNFormatError(.refused, file: file, object: object,
                                     "attribute \(name) stores \(stored) bytes (at most \(HDF5AttributeLimits.maxBytes) allowed)")
            }
            try withAttributeSpace(attribute, object: place) { space in
                let points = try count("H5Sget_simple_extent_npoints", object: place) { H5Sget_simple_extent_npoints(space) }
                guard points <= HDF5AttributeLimits.maxElements else {
                    throw RNNFormatError(.refused, file: file, object: object,
                                         "attribute \(name) holds \(points) elements (at most \(HDF5AttributeLimits.maxElements) allowed)")
                }
            }
            try withAttributeType(attribute, object: place) { type in
                let cls = try typeClass(type, object: place)
                guard cls == H5T_INTEGER || cls == H5T_FLOAT || cls == H5T_STRING || cls == H5T_ENUM else {
                    throw RNNFormatError(.unsupportedType, file: file, object: object,
                                         "attribute \(name): expected an integer, float, string or bool, found \(HDF5TypeClass.name(cls))")
                }
            }
        }
    }

    /// Reads attribute `name` of `owner`.
    ///
    /// - Throws: `.invalidAttribute` for shapes or types outside `HDF5AttributeValue`.
    func readAttribute(_ owner: hid_t, _ name: String, object: String) throws -> HDF5AttributeValue {
        let place = "\(object) attribute \(name)"
        func invalid(_ message: String) -> RNNFormatError {
            RNNFormatError(.invalidAttribute, file: file, object: object, "attribute \(name): \(message)")
        }
        return try withAttribute(owner, name, object: object) { attribute in
            let count = try withAttributeSpace(attribute, object: place) { space -> Int in
                let kind = try spaceClass(space, object: place)
                guard kind == H5S_SCALAR || kind == H5S_SIMPLE else { throw invalid("expected a value, found an empty (null) dataspace") }
                let rank = try self.count("H5Sget_simple_extent_ndims", object: place) { H5Sget_simple_extent_ndims(space) }
                guard rank <= 1 else { throw invalid("expected a scalar or a one-dimensional array, found rank \(rank)") }
                return try self.count("H5Sget_simple_extent_npoints", object: place) { H5Sget_simple_extent_npoints(space) }
            }
            guard count <= HDF5AttributeLimits.maxElements else {
                throw RNNFormatError(.refused, file: file, object: object, "attribute \(name) holds \(count) elements (at most \(HDF5AttributeLimits.maxElements) allowed)")
            }
            return try withAttributeType(attribute, object: place) { type -> HDF5AttributeValue in
                let cls = try typeClass(type, object: place)
                switch cls {
                case H5T_INTEGER:
                    var values = [Int64](repeating: 0, count: count)
                    try status("H5Aread", object: place) { H5Aread(attribute, chdf5_t_native_int64(), &values) }
                    return .integers(values)
                case H5T_FLOAT:
                    var values = [Double](repeating: 0, count: count)
                    try status("H5Aread", object: place) { H5Aread(attribute, chdf5_t_native_double(), &values) }
                    return .floats(values)
                case H5T_STRING:
                    guard count == 1 else { throw invalid("expected one string, found \(count)") }
                    return .string(try readString(attribute, type: type, place: place))
                case H5T_ENUM:
                    guard count == 1 else { throw invalid("expected one bool, found \(count)") }
                    return .bool(try readBoolEnum(attribute, type: type, place: place, invalid: invalid))
                default:
                    throw RNNFormatError(.unsupportedType, file: file, object: object,
                                         "attribute \(name): expected an integer, float, string or bool, found \(HDF5TypeClass.name(cls))")
                }
            }
        }
    }

    private func readString(_ attribute: hid_t, type: hid_t, place: String) throws -> String {
        if try truth("H5Tis_variable_str", object: place, { H5Tis_variable_str(type) }) {
            return try withTypeCopy(chdf5_t_c_s1(), object: place) { memory in
                try status("H5Tset_size", object: place) { H5Tset_size(memory, chdf5_t_variable()) }
                let cset = try call("H5Tget_cset", object: place, failed: { $0 == H5T_CSET_ERROR }) { H5Tget_cset(type) }
                try status("H5Tset_cset", object: place) { H5Tset_cset(memory, cset) }
                var pointer: UnsafeMutablePointer<CChar>? = nil
                try status("H5Aread", object: place) { H5Aread(attribute, memory, &pointer) }
                guard let pointer else { return "" }
                defer { H5free_memory(pointer) }
                // Bounded: a variable-length string lives in the file's global heap, so it is
                // no longer than the file; cap what we keep.
                var length = 0
                while length <= HDF5AttributeLimits.maxBytes && pointer[length] != 0 { length += 1 }
                guard length <= HDF5AttributeLimits.maxBytes else {
                    throw RNNFormatError(.refused, file: file, object: place, "string longer than \(HDF5AttributeLimits.maxBytes) bytes")
                }
                return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
            }
        }
        let size = try call("H5Tget_size", object: place, failed: { $0 == 0 }) { H5Tget_size(type) }
        guard size <= HDF5AttributeLimits.maxBytes else {
            throw RNNFormatError(.refused, file: file, object: place, "string of \(size) bytes (at most \(HDF5AttributeLimits.maxBytes) allowed)")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        try withTypeCopy(type, object: place) { memory in
            try status("H5Aread", object: place) { H5Aread(attribute, memory, &bytes) }
        }
        var end = bytes.firstIndex(of: 0) ?? bytes.count
        let pad = try call("H5Tget_strpad", object: place, failed: { $0 == H5T_STR_ERROR }) { H5Tget_strpad(type) }
        if pad == H5T_STR_SPACEPAD {
            while end > 0 && bytes[end - 1] == 0x20 { end -= 1 }
        }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    private func readBoolEnum(
        _ attribute: hid_t, type: hid_t, place: String, invalid: (String) -> RNNFormatError
    ) throws -> Bool {
        let members = try count("H5Tget_nmembers", object: place) { H5Tget_nmembers(type) }
        let size = try call("H5Tget_size", object: place, failed: { $0 == 0 }) { H5Tget_size(type) }
        guard members == 2, size <= 8 else {
            throw invalid("expected h5py's bool (an enum of FALSE and TRUE), found an enum of \(members) members")
        }
        var raw = [UInt8](repeating: 0, count: 8)
        try withTypeCopy(type, object: place) { memory in
            try status("H5Aread", object: place) { H5Aread(attribute, memory, &raw) }
        }
        var name = [CChar](repeating: 0, count: 16)
        try status("H5Tenum_nameof", object: place) { H5Tenum_nameof(type, raw, &name, name.count) }
        switch String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) {
        case "TRUE": return true
        case "FALSE": return false
        case let other: throw invalid("expected h5py's bool (FALSE or TRUE), found enum member \(other)")
        }
    }

    // MARK: Writing

    private func writeAttribute(_ owner: hid_t, _ name: String, type: hid_t, shape: [Int], object: String, _ data: UnsafeRawPointer?) throws {
        let place = "\(object) attribute \(name)"
        guard let data, shape.allSatisfy({ $0 > 0 }) else {
            throw RNNFormatError(.invalidAttribute, file: file, object: object, "attribute \(name): expected at least one value, found none")
        }
        try withDataspace(shape: shape, object: place) { space in
            try with("H5Acreate2", object: place, close: { H5Aclose($0) },
                     open: { H5Acreate2(owner, name, type, space, chdf5_p_default(), chdf5_p_default()) }) { attribute in
                try status("H5Awrite", object: place) { H5Awrite(attribute, type, data) }
            }
        }
    }

    /// Writes a variable-length UTF-8 string (h5py reads it as `str`).
    func writeString(_ owner: hid_t, _ name: String, _ value: String, object: String) throws {
        try withTypeCopy(chdf5_t_c_s1(), object: object) { type in
            try status("H5Tset_size", object: object) { H5Tset_size(type, chdf5_t_variable()) }
            try status("H5Tset_cset", object: object) { H5Tset_cset(type, H5T_CSET_UTF8) }
            try value.withCString { cString in
                var pointer: UnsafePointer<CChar>? = cString
                try writeAttribute(owner, name, type: type, shape: [], object: object, &pointer)
            }
        }
    }

    /// Writes a scalar 64-bit little-endian integer.
    func writeInteger(_ owner: hid_t, _ name: String, _ value: Int, object: String) throws {
        var v = Int64(value).littleEndian
        try writeAttribute(owner, name, type: chdf5_t_std_i64le(), shape: [], object: object, &v)
    }

    /// Writes a scalar 64-bit little-endian float.
    func writeDouble(_ owner: hid_t, _ name: String, _ value: Double, object: String) throws {
        var bits = value.bitPattern.littleEndian
        try writeAttribute(owner, name, type: chdf5_t_ieee_f64le(), shape: [], object: object, &bits)
    }

    /// Writes h5py's bool: an enum of int8 with FALSE = 0 and TRUE = 1 (h5py reads `numpy.bool_`).
    func writeBool(_ owner: hid_t, _ name: String, _ value: Bool, object: String) throws {
        try with("H5Tenum_create", object: object, close: { H5Tclose($0) }, open: { H5Tenum_create(chdf5_t_native_int8()) }) { type in
            var no: Int8 = 0
            var yes: Int8 = 1
            try status("H5Tenum_insert", object: object) { H5Tenum_insert(type, "FALSE", &no) }
            try status("H5Tenum_insert", object: object) { H5Tenum_insert(type, "TRUE", &yes) }
            var v: Int8 = value ? 1 : 0
            try writeAttribute(owner, name, type: type, shape: [], object: object, &v)
        }
    }

    /// Writes a one-dimensional float32 little-endian array.
    func writeFloat32Array(_ owner: hid_t, _ name: String, _ values: [Float], object: String) throws {
        let bits = values.map { $0.bitPattern.littleEndian }
        try bits.withUnsafeBytes { raw in
            try writeAttribute(owner, name, type: chdf5_t_ieee_f32le(), shape: [values.count], object: object, raw.baseAddress)
        }
    }

    /// Writes a one-dimensional int32 little-endian array.
    func writeInt32Array(_ owner: hid_t, _ name: String, _ values: [Int32], object: String) throws {
        let le = values.map { $0.littleEndian }
        try le.withUnsafeBytes { raw in
            try writeAttribute(owner, name, type: chdf5_t_std_i32le(), shape: [values.count], object: object, raw.baseAddress)
        }
    }
}

extension HDF5Session {
    /// The class of a datatype.
    func typeClass(_ type: hid_t, object: String) throws -> H5T_class_t {
        try call("H5Tget_class", object: object, failed: { $0 == H5T_NO_CLASS }) { H5Tget_class(type) }
    }

    /// The class of a dataspace (scalar, simple, null).
    func spaceClass(_ space: hid_t, object: String) throws -> H5S_class_t {
        try call("H5Sget_simple_extent_type", object: object, failed: { $0 == H5S_NO_CLASS }) { H5Sget_simple_extent_type(space) }
    }
}

/// Names of libhdf5 datatype classes, for messages.
enum HDF5TypeClass {
    static func name(_ cls: H5T_class_t) -> String {
        switch cls {
        case H5T_INTEGER: "integer"
        case H5T_FLOAT: "float"
        case H5T_TIME: "time"
        case H5T_STRING: "string"
        case H5T_BITFIELD: "bitfield"
        case H5T_OPAQUE: "opaque"
        case H5T_COMPOUND: "compound"
        case H5T_REFERENCE: "reference"
        case H5T_ENUM: "enum"
        case H5T_VLEN: "variable-length sequence"
        case H5T_ARRAY: "array"
        default: "unknown type class \(cls.rawValue)"
        }
    }
}
