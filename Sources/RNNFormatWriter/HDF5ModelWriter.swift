import CHDF5
import RNNFormat

/// A point of the write where a test may make it fail (see `ModelFile.write(to:overwrite:failure:)`).
enum WriteStage: Equatable, Sendable {
    /// After the dataset at this HDF5 path was written.
    case wroteDataset(String)
    /// After the temporary file was closed and synced, before it replaces the target.
    case beforeCommit
}

/// Writes canonical v1 files (spec/FORMAT.md).
enum HDF5ModelWriter {
    /// Checks that `model` can be written as a v1 file: modules valid, paths distinct and not
    /// nested, metadata within the attribute caps.
    ///
    /// - Parameters:
    ///   - file: the target path as the user gave it, for messages.
    /// - Throws: `RNNFormatError` naming the module or metadata key.
    static func check(_ model: ModelFile, file: String) throws {
        guard !model.modules.isEmpty else {
            throw RNNFormatError(.moduleNotFound, file: file, "nothing to write: a model file holds at least one module")
        }
        var seen = Set<String>()
        for module in model.modules {
            let components = module.path.split(separator: ".", omittingEmptySubsequences: false)
            if !module.path.isEmpty {
                guard components.allSatisfy({ !$0.isEmpty && !$0.contains("/") && $0.utf8.count <= HDF5ProfileLimits.maxNameBytes }),
                      components.count <= HDF5ProfileLimits.maxDepth
                else {
                    throw RNNFormatError(.invalidAttribute, file: file, object: module.path,
                                         "a module path is a dotted state_dict prefix of non-empty names without \"/\" (at most \(HDF5ProfileLimits.maxDepth) levels)")
                }
            }
            guard seen.insert(module.path).inserted else {
                throw RNNFormatError(.unexpectedObject, file: file, object: module.groupPath, "two modules share the path \"\(module.path)\"")
            }
            try module.validate(file: file, naming: .hdf5)
            for (name, parameter) in module.parameters {
                if case .quantized(let q) = parameter, q.scales.count * 4 > HDF5AttributeLimits.maxBytes {
                    throw RNNFormatError(.unsupported, file: file, object: ObjectNaming.hdf5.name(prefix: module.path, name),
                                         "\(q.scales.count) per-channel scales exceed the 64 KiB attribute limit (at most \(HDF5AttributeLimits.maxBytes / 4) rows)")
                }
            }
        }
        for module in model.modules {
            for other in model.modules where other.path != module.path {
                if module.path.isEmpty || other.path.hasPrefix(module.path + ".") {
                    throw RNNFormatError(.unexpectedObject, file: file, object: other.groupPath,
                                         "module \"\(other.path)\" would sit inside module group \(module.groupPath); module groups hold only their tensors")
                }
            }
        }
        for (key, value) in model.metadata.user {
            guard !key.isEmpty, key.utf8.count <= 255, value.utf8.count <= HDF5AttributeLimits.maxBytes else {
                throw RNNFormatError(.invalidAttribute, file: file, object: "/",
                                     "user metadata key \"\(key.prefix(40))\": keys are 1 to 255 bytes, values at most \(HDF5AttributeLimits.maxBytes) bytes")
            }
        }
        if let producer = model.metadata.producer, producer.utf8.count > HDF5AttributeLimits.maxBytes {
            throw RNNFormatError(.invalidAttribute, file: file, object: "/", "producer longer than \(HDF5AttributeLimits.maxBytes) bytes")
        }
    }

    /// Writes `model`, which `check` accepted, into a new file at `temporary` (which must not
    /// exist).
    ///
    /// - Parameters:
    ///   - file: the target path as the user gave it, for messages.
    ///   - failure: test hook called at each `WriteStage`; throwing aborts the write.
    /// - Throws: `RNNFormatError`; the caller removes the temporary file.
    static func write(_ model: ModelFile, temporary: String, file: String, failure: ((WriteStage) throws -> Void)?) throws {
        try HDF5Library.withSession(file: file) { session in
            let fileID = try session.withPropertyList(chdf5_p_file_access()) { fapl in
                try session.status("H5Pset_fclose_degree") { H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) }
                // libhdf5 otherwise reserves metadata and small raw data in 2 KiB blocks, about
                // 5 KiB of slack per file: a quarter of a small int8 model.
                try session.status("H5Pset_meta_block_size") { H5Pset_meta_block_size(fapl, 0) }
                try session.status("H5Pset_small_data_block_size") { H5Pset_small_data_block_size(fapl, 0) }
                return try session.id("H5Fcreate") { H5Fcreate(temporary, chdf5_f_acc_excl(), chdf5_p_default(), fapl) }
            }
            var open = true
            defer { if open { H5Fclose(fileID) } }
            try writeMetadata(model.metadata, session: session, fileID: fileID)
            for module in model.modules.sorted(by: { $0.path < $1.path }) {
                try writeModule(module, session: session, fileID: fileID, failure: failure)
            }
            try session.status("H5Fflush") { H5Fflush(fileID, H5F_SCOPE_GLOBAL) }
            open = false
            try session.status("H5Fclose") { H5Fclose(fileID) }
        }
    }

    private static func writeMetadata(_ metadata: FileMetadata, session: HDF5Session, fileID: hid_t) throws {
        try session.writeString(fileID, HDF5Layout.format, FileMetadata.formatName, object: "/")
        try session.writeString(fileID, HDF5Layout.formatVersion, FileMetadata.currentVersion.description, object: "/")
        try session.writeString(fileID, HDF5Layout.producer, metadata.producer ?? "RNNKit", object: "/")
        for (key, value) in metadata.user.sorted(by: { $0.key < $1.key }) {
            try session.writeString(fileID, HDF5Layout.userPrefix + key, value, object: "/")
        }
    }

    /// Runs `body` in the module's group, creating it and its parents.
    private static func withModuleGroup(_ module: ModuleRecord, session: HDF5Session, fileID: hid_t, _ body: (hid_t) throws -> Void) throws {
        func descend(_ parent: hid_t, _ components: ArraySlice<Substring>, path: String) throws {
            guard let first = components.first else { return try body(parent) }
            let name = String(first)
            let child = hdf5Path(path, name)
            let exists = try session.truth("H5Lexists", object: child) { H5Lexists(parent, name, chdf5_p_default()) }
            if exists {
                try session.withGroup(parent, name, object: child) { try descend($0, components.dropFirst(), path: child) }
            } else {
                try session.with("H5Gcreate2", object: child, close: { H5Gclose($0) },
                                 open: { H5Gcreate2(parent, name, chdf5_p_default(), chdf5_p_default(), chdf5_p_default()) }) {
                    try descend($0, components.dropFirst(), path: child)
                }
            }
        }
        let components = module.path.isEmpty ? [] : module.path.split(separator: ".", omittingEmptySubsequences: false)
        try descend(fileID, components[...], path: "/")
    }

    private static func writeModule(_ module: ModuleRecord, session: HDF5Session, fileID: hid_t, failure: ((WriteStage) throws -> Void)?) throws {
        let config = module.config
        try withModuleGroup(module, session: session, fileID: fileID) { group in
            let object = module.groupPath
            try session.writeString(group, HDF5Layout.module, config.kind.rawValue, object: object)
            for name in HDF5Layout.constructorArguments(config.kind) {
                switch name {
                case HDF5Layout.inputSize: try session.writeInteger(group, name, config.inputSize, object: object)
                case HDF5Layout.hiddenSize: try session.writeInteger(group, name, config.hiddenSize, object: object)
                case HDF5Layout.numLayers: try session.writeInteger(group, name, config.numLayers, object: object)
                case HDF5Layout.projSize: try session.writeInteger(group, name, config.projSize, object: object)
                case HDF5Layout.bias: try session.writeBool(group, name, config.bias, object: object)
                case HDF5Layout.batchFirst: try session.writeBool(group, name, config.batchFirst, object: object)
                case HDF5Layout.bidirectional: try session.writeBool(group, name, config.bidirectional, object: object)
                case HDF5Layout.dropout: try session.writeDouble(group, name, config.dropout, object: object)
                case HDF5Layout.nonlinearity: try session.writeString(group, name, config.nonlinearity.rawValue, object: object)
                default: preconditionFailure("constructor argument \(name) has no writer")
                }
            }
            if !config.linearBeforeReset {
                try session.writeInteger(group, HDF5Layout.linearBeforeReset, 0, object: object)
            }
            for spec in config.expectedParameters {
                // validate() has established that every expected parameter is present.
                guard let parameter = module.parameters[spec.name] else { continue }
                let path = hdf5Path(object, spec.name)
                try writeTensor(parameter, name: spec.name, path: path, group: group, session: session)
                try failure?(.wroteDataset(path))
            }
        }
    }

    /// The little-endian bytes a parameter is stored as, and its element type in the file.
    static func canonicalBytes(_ parameter: Parameter, path: String, file: String) throws -> (bytes: [UInt8], type: ElementType) {
        switch parameter {
        case .quantized(let q):
            return (q.values.map { UInt8(bitPattern: $0) }, .int8)
        case .float(let tensor, .float16):
            var bytes = [UInt8]()
            bytes.reserveCapacity(tensor.count * 2)
            for (index, value) in tensor.scalars.enumerated() {
                guard let half = HalfPrecision.float16Bits(from: value) else {
                    throw RNNFormatError(.unsupportedType, file: file, object: path,
                                         "value \(value) at flat index \(index) does not fit float16 (the tensor is marked as stored in float16)")
                }
                bytes.append(UInt8(truncatingIfNeeded: half))
                bytes.append(UInt8(truncatingIfNeeded: half >> 8))
            }
            return (bytes, .float16)
        case .float(let tensor, _):
            // float32 as is; float64 sources were narrowed when read, bfloat16 widens exactly.
            var bytes = [UInt8]()
            bytes.reserveCapacity(tensor.count * 4)
            for value in tensor.scalars {
                let bits = value.bitPattern
                bytes.append(UInt8(truncatingIfNeeded: bits))
                bytes.append(UInt8(truncatingIfNeeded: bits >> 8))
                bytes.append(UInt8(truncatingIfNeeded: bits >> 16))
                bytes.append(UInt8(truncatingIfNeeded: bits >> 24))
            }
            return (bytes, .float32)
        }
    }

    private static func writeTensor(_ parameter: Parameter, name: String, path: String, group: hid_t, session: HDF5Session) throws {
        let (bytes, type) = try canonicalBytes(parameter, path: path, file: session.file)
        try session.withFileType(type, object: path) { fileType in
            try session.withDataspace(shape: parameter.shape, object: path) { space in
                try session.with("H5Dcreate2", object: path, close: { H5Dclose($0) },
                                 open: { H5Dcreate2(group, name, fileType, space, chdf5_p_default(), chdf5_p_default(), chdf5_p_default()) }) { dataset in
                    try bytes.withUnsafeBytes { raw in
                        try session.status("H5Dwrite", object: path) {
                            H5Dwrite(dataset, fileType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), raw.baseAddress)
                        }
                    }
                    try session.writeString(dataset, HDF5Layout.checksum, SHA256.hex(of: bytes), object: path)
                    if case .quantized(let q) = parameter {
                        try session.writeFloat32Array(dataset, HDF5Layout.scale, q.scales, object: path)
                        try session.writeInt32Array(dataset, HDF5Layout.zeroPoint, q.zeroPoints, object: path)
                        try session.writeString(dataset, HDF5Layout.quantization, q.scheme.rawValue, object: path)
                    }
                }
            }
        }
    }
}

extension HDF5Session {
    /// The little-endian file datatype of a canonical element type; float16 is built the way
    /// h5py builds it, so h5py reads it as `numpy.float16`.
    func withFileType<T>(_ type: ElementType, object: String, _ body: (hid_t) throws -> T) throws -> T {
        switch type {
        case .int8:
            return try withTypeCopy(chdf5_t_std_i8le(), object: object, body)
        case .float16:
            return try withTypeCopy(chdf5_t_ieee_f32le(), object: object) { half in
                try status("H5Tset_fields", object: object) { H5Tset_fields(half, 15, 10, 5, 0, 10) }
                try status("H5Tset_size", object: object) { H5Tset_size(half, 2) }
                try status("H5Tset_ebias", object: object) { H5Tset_ebias(half, 15) }
                return try body(half)
            }
        case .float32, .float64, .bfloat16:
            return try withTypeCopy(chdf5_t_ieee_f32le(), object: object, body)
        }
    }
}
