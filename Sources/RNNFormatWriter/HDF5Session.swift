import CHDF5
import Foundation
import RNNFormat

/// The one gate to libhdf5, which RNNKit uses only to write files: a process-wide lock and a
/// checked-call wrapper.
///
/// Every libhdf5 call in the package runs inside `HDF5Library.withSession`, which holds the lock
/// for the whole operation (libhdf5 keeps global state, and whether it is thread-safe depends on
/// how it was built), silences libhdf5's own error printing, and hands out an `HDF5Session`
/// whose `call` methods check each status and turn libhdf5's error stack into a thrown
/// `RNNFormatError` with code `.hdf5(function:)`.
enum HDF5Library {
    private static let lock = NSLock()

    /// Runs `body` with exclusive use of libhdf5.
    ///
    /// - Parameters:
    ///   - file: the file path as the user gave it, named by every error the session throws.
    /// - Throws: whatever `body` throws.
    static func withSession<T>(file: String, _ body: (HDF5Session) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        // Per thread in thread-safe builds, so set on every session, not once.
        H5Eset_auto2(chdf5_e_default(), nil, nil)
        H5Eclear2(chdf5_e_default())
        return try body(HDF5Session(file: file))
    }
}

/// Proof that the caller holds the libhdf5 lock, and the checked-call wrapper.
///
/// Only `HDF5Library.withSession` creates one; it must not outlive the closure it was given to.
struct HDF5Session {
    /// The path as the user gave it, for messages.
    let file: String

    fileprivate init(file: String) { self.file = file }

    // MARK: Checked calls

    /// Calls `body` and throws when `failed` says its result means failure.
    func call<T>(_ function: String, object: String? = nil, failed: (T) -> Bool, _ body: () -> T) throws -> T {
        H5Eclear2(chdf5_e_default())
        let result = body()
        if failed(result) {
            throw error(function, object: object)
        }
        return result
    }

    /// A call returning an identifier (negative on failure).
    func id(_ function: String, object: String? = nil, _ body: () -> hid_t) throws -> hid_t {
        try call(function, object: object, failed: { $0 < 0 }, body)
    }

    /// A call returning `herr_t` (negative on failure).
    func status(_ function: String, object: String? = nil, _ body: () -> herr_t) throws {
        _ = try call(function, object: object, failed: { $0 < 0 }, body)
    }

    /// A call returning `htri_t` (negative on failure, else false/true).
    func truth(_ function: String, object: String? = nil, _ body: () -> htri_t) throws -> Bool {
        try call(function, object: object, failed: { $0 < 0 }, body) > 0
    }

    /// A call returning a count or size as a signed integer (negative on failure).
    func count<I: BinaryInteger>(_ function: String, object: String? = nil, _ body: () -> I) throws -> Int {
        Int(try call(function, object: object, failed: { $0 < 0 }, body))
    }

    /// The error for a failed `function`, carrying libhdf5's error stack, which is then cleared.
    func error(_ function: String, object: String?) -> RNNFormatError {
        let stack = HDF5ErrorStack.take()
        let message = stack.isEmpty ? "\(function) failed" : "\(function) failed: \(stack.joined(separator: "; "))"
        return RNNFormatError(.hdf5(function: function), file: file, object: object, message)
    }

    // MARK: Scoped handles

    /// Runs `body` with an identifier from `open`, closing it with `close` on every exit path.
    func with<T>(
        _ function: String, object: String? = nil, close: (hid_t) -> herr_t, open: () -> hid_t,
        _ body: (hid_t) throws -> T
    ) throws -> T {
        let handle = try id(function, object: object, open)
        defer { _ = close(handle) }
        return try body(handle)
    }

    func withGroup<T>(_ parent: hid_t, _ name: String, object: String, _ body: (hid_t) throws -> T) throws -> T {
        try with("H5Gopen2", object: object, close: { H5Gclose($0) }, open: { H5Gopen2(parent, name, chdf5_p_default()) }, body)
    }

    func withDataset<T>(_ parent: hid_t, _ name: String, object: String, _ body: (hid_t) throws -> T) throws -> T {
        try with("H5Dopen2", object: object, close: { H5Dclose($0) }, open: { H5Dopen2(parent, name, chdf5_p_default()) }, body)
    }

    func withAttribute<T>(_ owner: hid_t, _ name: String, object: String, _ body: (hid_t) throws -> T) throws -> T {
        try with("H5Aopen", object: object, close: { H5Aclose($0) }, open: { H5Aopen(owner, name, chdf5_p_default()) }, body)
    }

    func withDatasetSpace<T>(_ dataset: hid_t, object: String, _ body: (hid_t) throws -> T) throws -> T {
        try with("H5Dget_space", object: object, close: { H5Sclose($0) }, open: { H5Dget_space(dataset) }, body)
    }

    func withDatasetType<T>(_ dataset: hid_t, object: String, _ body: (hid_t) throws -> T) throws -> T {
        try with("H5Dget_type", object: object, close: { H5Tclose($0) }, open: { H5Dget_type(dataset) }, body)
    }

    func withDatasetCreationList<T>(_ dataset: hid_t, object: String, _ body: (hid_t) throws -> T) throws -> T {
        try with("H5Dget_create_plist", object: object, close: { H5Pclose($0) }, open: { H5Dget_create_plist(dataset) }, body)
    }

    func withAttributeSpace<T>(_ attribute: hid_t, object: String, _ body: (hid_t) throws -> T) throws -> T {
        try with("H5Aget_space", object: object, close: { H5Sclose($0) }, open: { H5Aget_space(attribute) }, body)
    }

    func withAttributeType<T>(_ attribute: hid_t, object: String, _ body: (hid_t) throws -> T) throws -> T {
        try with("H5Aget_type", object: object, close: { H5Tclose($0) }, open: { H5Aget_type(attribute) }, body)
    }

    /// A copy of `type` that the body may modify.
    func withTypeCopy<T>(_ type: hid_t, object: String? = nil, _ body: (hid_t) throws -> T) throws -> T {
        try with("H5Tcopy", object: object, close: { H5Tclose($0) }, open: { H5Tcopy(type) }, body)
    }

    /// A simple dataspace of `shape` (a scalar dataspace for an empty shape).
    func withDataspace<T>(shape: [Int], object: String? = nil, _ body: (hid_t) throws -> T) throws -> T {
        if shape.isEmpty {
            return try with("H5Screate", object: object, close: { H5Sclose($0) }, open: { H5Screate(H5S_SCALAR) }, body)
        }
        let dims = shape.map { hsize_t($0) }
        return try with("H5Screate_simple", object: object, close: { H5Sclose($0) },
                        open: { dims.withUnsafeBufferPointer { H5Screate_simple(Int32(dims.count), $0.baseAddress, nil) } }, body)
    }

    func withPropertyList<T>(_ cls: hid_t, _ body: (hid_t) throws -> T) throws -> T {
        try with("H5Pcreate", close: { H5Pclose($0) }, open: { H5Pcreate(cls) }, body)
    }
}

/// Collects libhdf5's error stack of the current thread into readable lines.
enum HDF5ErrorStack {
    private final class Lines {
        var lines: [String] = []
    }

    /// The messages on the stack, outermost call first, at most eight; clears the stack.
    static func take() -> [String] {
        let box = Lines()
        let walker: H5E_walk2_t = { _, entry, data in
            guard let entry, let data else { return 0 }
            let box = Unmanaged<Lines>.fromOpaque(data).takeUnretainedValue()
            let function = entry.pointee.func_name.map { String(cString: $0) } ?? "?"
            let description = entry.pointee.desc.map { String(cString: $0) } ?? ""
            box.lines.append(description.isEmpty ? function : "\(description) (\(function))")
            return 0
        }
        withExtendedLifetime(box) {
            _ = H5Ewalk2(chdf5_e_default(), H5E_WALK_DOWNWARD, walker, Unmanaged.passUnretained(box).toOpaque())
        }
        H5Eclear2(chdf5_e_default())
        return Array(box.lines.prefix(8))
    }
}

// Attributes as the writer stores them (spec/FORMAT.md, "Types as written").
extension HDF5Session {
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
