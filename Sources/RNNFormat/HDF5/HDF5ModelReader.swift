/// Reads model files (canonical or bare h5py dumps) under the restricted profile, with RNNKit's
/// own HDF5 reader: nothing of the file is ever handed to libhdf5.
enum HDF5ModelReader {
    /// What to do when a stored checksum does not match.
    enum ChecksumMode {
        /// Throw `.checksumMismatch` at the first mismatch.
        case enforce
        /// Record every mismatch and stop before validation (for `verify`).
        case collect
    }

    struct Result {
        /// Nil when checksums mismatched in `.collect` mode (the data is not trusted).
        var model: ModelFile?
        /// HDF5 paths of tensors whose `sha256` matched.
        var checked: [String] = []
        /// HDF5 paths of tensors without a `sha256` attribute.
        var unchecked: [String] = []
        var mismatches: [RNNFormatError] = []
    }

    /// Walks (profile), reads and validates the HDF5 file in `source`.
    ///
    /// - Throws: `RNNFormatError` naming the source, the object and expected versus found.
    static func read(_ source: ByteSource, options: InferenceOptions, checksums: ChecksumMode) throws -> Result {
        let reader = try HDF5Reader(source: source)
        var catalogReader = CatalogReader(source: source, catalog: try reader.catalog(), options: options, mode: checksums)
        return try catalogReader.run()
    }
}

private struct CatalogReader {
    let source: ByteSource
    let catalog: HDF5Catalog
    let options: InferenceOptions
    let mode: HDF5ModelReader.ChecksumMode
    var result = HDF5ModelReader.Result()
    /// Datasets by HDF5 path, and the paths of groups with a `module` attribute.
    let datasets: [String: HDF5Catalog.Dataset]
    let moduleGroups: Set<String>
    /// In files of a newer minor version, attributes this reader does not know are ignored.
    var strict = true

    init(source: ByteSource, catalog: HDF5Catalog, options: InferenceOptions, mode: HDF5ModelReader.ChecksumMode) {
        self.source = source
        self.catalog = catalog
        self.options = options
        self.mode = mode
        datasets = Dictionary(catalog.datasets.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        moduleGroups = Set(catalog.groups.filter { $0.attributes[named: HDF5Layout.module] != nil }.map(\.path))
    }

    var file: String { source.name }

    func fail(_ code: RNNFormatError.Code, _ object: String, _ message: String) -> RNNFormatError {
        RNNFormatError(code, file: file, object: object, message)
    }

    func string(_ attribute: HDF5Attribute, _ path: String) throws -> String {
        guard let s = attribute.value.string else {
            throw fail(.invalidAttribute, path, "attribute \(attribute.name): expected a string, found \(attribute.value.summary)")
        }
        return s
    }

    // MARK: Run

    mutating func run() throws -> HDF5ModelReader.Result {
        guard let root = catalog.groups.first else { throw fail(.malformed, "/", "no root group") }
        let metadata = try readMetadata(root)

        var bare: [String: HDF5Catalog.Dataset] = [:]
        var leftovers: [String] = []
        for dataset in catalog.datasets where !moduleGroups.contains(dataset.group) {
            // Bare dumps name tensors by path (`/a/b/weight_ih_l0`) or by dotted name
            // (`/a.b.weight_ih_l0`); both give the state_dict key `a.b.weight_ih_l0`.
            if parameterName(dataset) != nil {
                bare[stateDictKey(dataset.path)] = dataset
            } else {
                leftovers.append(dataset.path)
            }
        }

        // Everything is checked against names, types and ranks before any tensor is read.
        var planned: [(HDF5Catalog.Group, ModuleConfig)] = []
        for group in catalog.groups where moduleGroups.contains(group.path) {
            planned.append((group, try plannedModule(group, isRoot: group.path == "/")))
        }
        let bareOrder = bare.sorted { $0.key < $1.key }
        for (_, dataset) in bareOrder { try checkTensor(dataset) }

        // Reading order: module groups' tensors, then bare tensors by state_dict key.
        var order: [HDF5Catalog.Dataset] = []
        for (group, _) in planned {
            order += group.datasets.compactMap { datasets[hdf5Path(group.path, $0)] }
        }
        order += bareOrder.map(\.value)
        let parameters = try readTensors(order)
        guard result.mismatches.isEmpty else { return result }

        var modules: [ModuleRecord] = []
        for (group, config) in planned {
            var own: [String: Parameter] = [:]
            var finite: Set<String> = []
            for name in group.datasets {
                guard let read = parameters[hdf5Path(group.path, name)] else { continue }
                own[name] = read.parameter
                if read.finite { finite.insert(name) }
            }
            let record = ModuleRecord(path: dottedPath(group.path), config: config, parameters: own)
            try checkAgainstShapes(record, group: group.path)
            try record.validate(file: file, naming: .hdf5, finite: finite)
            modules.append(record)
        }
        let bareParameters = Dictionary(uniqueKeysWithValues: bareOrder.compactMap { key, dataset in
            parameters[dataset.path].map { (key, $0.parameter) }
        })
        let assembly = try ModuleInference.assemble(bareParameters, options: options, file: file, naming: .hdf5)
        let groupModules = Set(modules.map(\.path))
        for record in assembly.modules {
            if groupModules.contains(record.path) {
                throw fail(.unexpectedObject, record.groupPath, "two modules share the prefix \(record.path): a module group and bare datasets named with dots")
            }
            modules.append(record)
        }
        leftovers += assembly.leftovers
        guard !modules.isEmpty else {
            let seen = leftovers.isEmpty ? "no datasets" : "only \(leftovers.count) other dataset(s), e.g. \(leftovers.sorted()[0])"
            throw RNNFormatError(.moduleNotFound, file: file, object: nil,
                                 "no RNN module found (expected a group with a module attribute, or datasets weight_ih_l0 and weight_hh_l0 or weight_ih and weight_hh); found \(seen)")
        }
        result.model = ModelFile(metadata: metadata, modules: modules.sorted { $0.path < $1.path }, leftovers: leftovers.sorted())
        return result
    }

    /// `/model/encoder/weight_ih_l0` -> `model.encoder.weight_ih_l0`.
    func stateDictKey(_ path: String) -> String {
        String(path.dropFirst().map { $0 == "/" ? "." : $0 })
    }

    /// The RNN parameter a dataset holds, judged by the last component of its state_dict key.
    func parameterName(_ dataset: HDF5Catalog.Dataset) -> ParameterName? {
        ParameterName(splitStateDictKey(stateDictKey(dataset.path)).name)
    }

    func dottedPath(_ group: String) -> String {
        group == "/" ? "" : stateDictKey(group)
    }

    // MARK: Metadata

    mutating func readMetadata(_ root: HDF5Catalog.Group) throws -> FileMetadata {
        var metadata = FileMetadata(formatVersion: nil)
        if let attribute = root.attributes[named: HDF5Layout.format] {
            let format = try string(attribute, "/")
            guard format == FileMetadata.formatName else {
                throw fail(.notRecognized, "/", "root attribute format: expected \"\(FileMetadata.formatName)\", found \(format.debugDescription)")
            }
        }
        if let attribute = root.attributes[named: HDF5Layout.formatVersion] {
            let text = try string(attribute, "/")
            guard let version = FormatVersion(text) else {
                throw fail(.invalidAttribute, "/", "root attribute format_version: expected \"major.minor\" such as \"1.0\", found \(text.debugDescription)")
            }
            let current = FileMetadata.currentVersion
            guard version.major == current.major else {
                throw fail(.unsupportedVersion, "/", "format version \(version) is not readable by this reader, which reads version \(current.major).x (written \(current)); \(version.major > current.major ? "upgrade RNNKit" : "convert the file")")
            }
            strict = version.minor <= current.minor
            metadata.formatVersion = version
        }
        if let attribute = root.attributes[named: HDF5Layout.producer] {
            metadata.producer = try string(attribute, "/")
        }
        for attribute in root.attributes where attribute.name.hasPrefix(HDF5Layout.userPrefix) {
            metadata.user[String(attribute.name.dropFirst(HDF5Layout.userPrefix.count))] = try string(attribute, "/")
        }
        return metadata
    }

    // MARK: Module groups

    func plannedModule(_ group: HDF5Catalog.Group, isRoot: Bool) throws -> ModuleConfig {
        let path = group.path
        let config = try readConfig(group)
        if let child = group.groups.first {
            throw fail(.unexpectedObject, hdf5Path(path, child), "unexpected group inside the \(config.kind.rawValue) module group \(path) (a module group holds only its tensors)")
        }
        if path != "/", path.contains(".") {
            throw fail(.invalidAttribute, path, "a module group's name may not contain \".\" (its path is the state_dict prefix with \".\" replaced by \"/\")")
        }
        if strict {
            var known = HDF5Layout.hyperparameters.union([HDF5Layout.module])
            if isRoot { known.formUnion([HDF5Layout.format, HDF5Layout.formatVersion, HDF5Layout.producer]) }
            if let unknown = group.attributes.names.first(where: { !known.contains($0) && !(isRoot && $0.hasPrefix(HDF5Layout.userPrefix)) }) {
                throw fail(.unexpectedObject, path, "unexpected attribute \(unknown) on a \(config.kind.rawValue) module group (expected module and \(HDF5Layout.constructorArguments(config.kind).joined(separator: ", ")))")
            }
        }
        let expected = Set(config.expectedParameters.map(\.name))
        for name in group.datasets {
            let object = hdf5Path(path, name)
            guard expected.contains(name) else {
                throw fail(.unexpectedObject, object, "unexpected in a \(config.kind.rawValue) with these hyperparameters (expected only \(config.expectedParameters.map(\.name).joined(separator: ", ")))")
            }
            guard let dataset = datasets[object] else { continue }
            try checkTensor(dataset)
        }
        return config
    }

    func readConfig(_ group: HDF5Catalog.Group) throws -> ModuleConfig {
        let path = group.path
        func value(_ name: String) -> HDF5AttributeValue? { group.attributes[named: name]?.value }
        func invalid(_ name: String, _ expected: String, _ found: HDF5AttributeValue) -> RNNFormatError {
            fail(.invalidAttribute, path, "attribute \(name): expected \(expected), found \(found.summary)")
        }
        func integer(_ name: String, default fallback: Int?) throws -> Int {
            guard let v = value(name) else {
                guard let fallback else { throw fail(.invalidAttribute, path, "missing attribute \(name) (required on a module group)") }
                return fallback
            }
            guard let found = v.integer else { throw invalid(name, "one integer", v) }
            guard let result = Int(exactly: found), result >= Int(Int32.min), result <= Int(Int32.max) else {
                throw invalid(name, "an integer within 32 bits", v)
            }
            return result
        }
        func bool(_ name: String, default fallback: Bool) throws -> Bool {
            guard let v = value(name) else { return fallback }
            guard let b = v.bool else { throw invalid(name, "a bool (0 or 1, or h5py's bool)", v) }
            return b
        }
        let moduleValue = value(HDF5Layout.module) ?? .strings([""])
        guard let moduleName = moduleValue.string else {
            throw invalid(HDF5Layout.module, "a string", moduleValue)
        }
        guard let kind = ModuleKind(rawValue: moduleName) else {
            throw fail(.unknownKind, path, "attribute module: expected one of \(ModuleKind.allCases.map(\.rawValue).joined(separator: ", ")), found \(moduleName.debugDescription)")
        }
        var dropout = 0.0
        if let v = value(HDF5Layout.dropout) {
            guard let number = v.number else { throw invalid(HDF5Layout.dropout, "one float", v) }
            dropout = number
        }
        var nonlinearity = kind.hasNonlinearity ? options.nonlinearity : .tanh
        if let v = value(HDF5Layout.nonlinearity) {
            guard let text = v.string else { throw invalid(HDF5Layout.nonlinearity, "a string", v) }
            guard let parsed = Nonlinearity(rawValue: text) else {
                throw invalid(HDF5Layout.nonlinearity, "\"tanh\" or \"relu\"", v)
            }
            nonlinearity = parsed
        }
        let config = ModuleConfig(
            kind: kind,
            inputSize: try integer(HDF5Layout.inputSize, default: nil),
            hiddenSize: try integer(HDF5Layout.hiddenSize, default: nil),
            numLayers: try integer(HDF5Layout.numLayers, default: 1),
            bias: try bool(HDF5Layout.bias, default: true),
            batchFirst: try bool(HDF5Layout.batchFirst, default: kind.isCell ? false : options.batchFirst),
            dropout: dropout,
            bidirectional: try bool(HDF5Layout.bidirectional, default: false),
            projSize: try integer(HDF5Layout.projSize, default: 0),
            nonlinearity: nonlinearity,
            linearBeforeReset: try bool(HDF5Layout.linearBeforeReset, default: true))
        try config.validate(file: file, object: path)
        return config
    }

    /// Compares the attributes with what the tensor shapes say, naming the attribute.
    func checkAgainstShapes(_ record: ModuleRecord, group: String) throws {
        guard let inferred = try? ModuleInference.inferConfig(
            shapes: record.parameters.mapValues(\.shape), options: options, file: file, prefix: record.path, naming: .hdf5)
        else { return }  // validation names the tensor that makes the shapes unreadable
        let declared = record.config
        let pairs: [(String, String, String)] = [
            (HDF5Layout.module, inferred.kind.rawValue, declared.kind.rawValue),
            (HDF5Layout.inputSize, "\(inferred.inputSize)", "\(declared.inputSize)"),
            (HDF5Layout.hiddenSize, "\(inferred.hiddenSize)", "\(declared.hiddenSize)"),
            (HDF5Layout.projSize, "\(inferred.projSize)", "\(declared.projSize)"),
        ]
        for (name, fromShapes, found) in pairs where fromShapes != found {
            throw fail(.invalidAttribute, group, "attribute \(name) contradicts the tensor shapes: expected \(fromShapes) (from the shapes), found \(found)")
        }
    }

    // MARK: Tensors

    /// Checks a tensor dataset's element type, rank and attributes before reading it.
    func checkTensor(_ dataset: HDF5Catalog.Dataset) throws {
        guard let name = parameterName(dataset) else { return }
        guard let type = dataset.element.elementType else {
            throw fail(.unsupportedType, dataset.path, "expected float16, float32, float64 or int8 (quantized weights), found \(dataset.element.description)")
        }
        let rank = name.role.isWeight ? 2 : 1
        guard dataset.shape.count == rank else {
            throw fail(.shapeMismatch, dataset.path, "expected \(rank == 2 ? "a matrix (rank 2)" : "a vector (rank 1)"), found shape \(dataset.shape)")
        }
        let attributes = Set(dataset.attributes.names)
        let quantAttributes = attributes.intersection([HDF5Layout.scale, HDF5Layout.zeroPoint, HDF5Layout.quantization])
        if type == .int8 {
            guard name.role.isWeight else {
                throw fail(.unsupportedType, dataset.path, "expected a float bias, found int8 values")
            }
            for needed in [HDF5Layout.scale, HDF5Layout.zeroPoint, HDF5Layout.quantization] where !attributes.contains(needed) {
                throw fail(.invalidAttribute, dataset.path, "an int8 weight needs attributes scale, zero_point and quantization; missing \(needed)")
            }
        } else if let stray = quantAttributes.sorted().first {
            throw fail(.invalidAttribute, dataset.path, "attribute \(stray) belongs to int8 weights, found on a \(type.rawValue) dataset")
        }
        if strict, moduleGroups.contains(dataset.group),
           let unknown = dataset.attributes.names.first(where: { !HDF5Layout.datasetAttributes.contains($0) }) {
            throw fail(.unexpectedObject, dataset.path, "unexpected attribute \(unknown) (a tensor holds only sha256 and, when int8, scale, zero_point, quantization)")
        }
        if let checksum = dataset.attributes[named: HDF5Layout.checksum] {
            _ = try storedChecksum(checksum, dataset.path)
        }
    }

    func storedChecksum(_ attribute: HDF5Attribute, _ path: String) throws -> String {
        let stored = try string(attribute, path).lowercased()
        guard stored.count == 64, stored.allSatisfy({ $0.isHexDigit && $0.isASCII }) else {
            throw fail(.invalidAttribute, path, "attribute sha256: expected 64 hex digits, found \(String(stored.prefix(80)).debugDescription)")
        }
        return stored
    }

    /// Reads `order`'s tensors (on two threads, each hashed as it is copied), then goes through
    /// them in order: the first failure in reading order is thrown, checksum mismatches are
    /// thrown (`.enforce`) or collected (`.collect`).
    mutating func readTensors(_ order: [HDF5Catalog.Dataset]) throws -> [String: (parameter: Parameter, finite: Bool)] {
        var requests: [HDF5TensorReads.Request] = []
        for dataset in order {
            guard let type = dataset.element.elementType else { continue }
            requests.append(HDF5TensorReads.Request(dataset: dataset, type: type, hashed: dataset.attributes[named: HDF5Layout.checksum] != nil))
        }
        let outcomes = HDF5TensorReads.read(requests, from: source)
        var parameters: [String: (parameter: Parameter, finite: Bool)] = [:]
        for (request, outcome) in zip(requests, outcomes) {
            let dataset = request.dataset
            let read = try outcome.get()
            if let digest = read.digest, let attribute = dataset.attributes[named: HDF5Layout.checksum] {
                let stored = try storedChecksum(attribute, dataset.path)
                guard digest == stored else {
                    let error = fail(.checksumMismatch, dataset.path, "checksum mismatch: attribute sha256 is \(stored), the data hashes to \(digest)")
                    switch mode {
                    case .enforce: throw error
                    case .collect: result.mismatches.append(error)
                    }
                    continue
                }
                result.checked.append(dataset.path)
            } else {
                result.unchecked.append(dataset.path)
            }
            switch read.values {
            case .float(let scalars):
                parameters[dataset.path] = (.float(Tensor(shape: dataset.shape, trusted: scalars), stored: request.type), read.finite)
            case .int8(let values):
                let (scales, zeroPoints) = try quantization(dataset)
                parameters[dataset.path] = (.quantized(QuantizedTensor(shape: dataset.shape, trusted: values, scales: scales, zeroPoints: zeroPoints)), true)
            }
        }
        return parameters
    }

    func quantization(_ dataset: HDF5Catalog.Dataset) throws -> ([Float], [Int32]) {
        let path = dataset.path
        let rows = dataset.shape[0]
        guard let schemeAttribute = dataset.attributes[named: HDF5Layout.quantization],
              let scaleAttribute = dataset.attributes[named: HDF5Layout.scale],
              let zeroAttribute = dataset.attributes[named: HDF5Layout.zeroPoint]
        else {
            throw fail(.invalidAttribute, path, "an int8 weight needs attributes scale, zero_point and quantization")
        }
        let schemeText = try string(schemeAttribute, path)
        guard let scheme = QuantizedTensor.Scheme(rawValue: schemeText) else {
            throw fail(.invalidAttribute, path, "attribute quantization: expected \"per_tensor\" or \"per_channel\", found \(schemeText.debugDescription)")
        }
        let expectedCount = scheme == .perTensor ? 1 : rows
        guard case .floats(let scales) = scaleAttribute.value, scales.count == expectedCount else {
            throw fail(.invalidAttribute, path, "attribute scale: expected \(expectedCount) float(s) for \(scheme.rawValue) over \(rows) rows, found \(scaleAttribute.value.summary)")
        }
        guard case .integers(let zeros) = zeroAttribute.value, zeros.count == expectedCount else {
            throw fail(.invalidAttribute, path, "attribute zero_point: expected \(expectedCount) integer(s) for \(scheme.rawValue), found \(zeroAttribute.value.summary)")
        }
        if let bad = zeros.first(where: { $0 < -128 || $0 > 127 }) {
            throw fail(.invalidAttribute, path, "attribute zero_point: expected values in -128...127 (int8), found \(bad)")
        }
        return (scales.map { Float($0) }, zeros.map { Int32($0) })
    }
}
