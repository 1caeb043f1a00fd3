/// What RNNKit records in a safetensors file's `__metadata__` (a string-to-string map), so
/// that the hyperparameters names and shapes cannot tell survive export and import.
///
/// Keys (spec/CHECKPOINTS.md "safetensors metadata"):
/// - `format` = `rnnkit`, `format_version` = `1.0`, `producer`;
/// - `rnnkit.modules`: a JSON array with one object per module: `path`, `module` (class name),
///   `input_size`, `hidden_size`, `num_layers`, `proj_size` (integers), `bias`,
///   `batch_first`, `bidirectional` (booleans), `dropout` (number), `nonlinearity` (string), and
///   for reset-before GRUs `linear_before_reset` = 0 (absent means 1, PyTorch's GRU);
/// - `user.<key>`: the file's free-form user metadata.
struct SafetensorsMetadata {
    static let modulesKey = "rnnkit.modules"
    static let userPrefix = "user."

    /// File-level metadata as read.
    var fileMetadata: FileMetadata
    /// Declared module configurations by path; empty when the file has none.
    var modules: [String: ModuleConfig]

    /// Encodes the metadata of `model`.
    static func encode(_ model: ModelFile) -> [String: String] {
        var map: [String: String] = [
            "format": FileMetadata.formatName,
            "format_version": (model.metadata.formatVersion ?? FileMetadata.currentVersion).description,
        ]
        if let producer = model.metadata.producer { map["producer"] = producer }
        for (key, value) in model.metadata.user { map[userPrefix + key] = value }
        let modules: [JSONValue] = model.modules.map { m in
            let c = m.config
            let variant: [(String, JSONValue)] = c.linearBeforeReset ? [] : [("linear_before_reset", .int(0))]
            return .object([
                ("path", .string(m.path)),
                ("module", .string(c.kind.rawValue)),
                ("input_size", .int(c.inputSize)),
                ("hidden_size", .int(c.hiddenSize)),
                ("num_layers", .int(c.numLayers)),
                ("proj_size", .int(c.projSize)),
                ("bias", .bool(c.bias)),
                ("batch_first", .bool(c.batchFirst)),
                ("bidirectional", .bool(c.bidirectional)),
                ("dropout", .number(c.dropout == 0 ? "0.0" : "\(c.dropout)")),
                ("nonlinearity", .string(c.nonlinearity.rawValue)),
            ] + variant)
        }
        map[modulesKey] = JSONValue.array(modules).serialized
        return map
    }

    /// Decodes `map`; a file without RNNKit keys yields no declared modules.
    /// - Throws: `.invalidAttribute` for a malformed `rnnkit.modules`, `.unsupportedVersion`
    ///   for a newer major format version.
    init(_ map: [String: String], file: String) throws {
        func invalid(_ message: String) -> RNNFormatError {
            RNNFormatError(.invalidAttribute, file: file, object: "__metadata__", message)
        }
        var version: FormatVersion?
        if map["format"] == FileMetadata.formatName, let text = map["format_version"] {
            guard let parsed = FormatVersion(text) else {
                throw invalid("expected format_version 'major.minor', found '\(text.prefix(32))'")
            }
            version = parsed
            guard parsed.major <= FileMetadata.currentVersion.major else {
                throw RNNFormatError(.unsupportedVersion, file: file, object: "__metadata__",
                                     "format_version \(text) is newer than this reader (\(FileMetadata.currentVersion))")
            }
        }
        var user: [String: String] = [:]
        for (key, value) in map where key.hasPrefix(Self.userPrefix) { user[String(key.dropFirst(Self.userPrefix.count))] = value }
        fileMetadata = FileMetadata(formatVersion: version, producer: map["producer"], user: user)
        modules = [:]
        guard let text = map[Self.modulesKey] else { return }
        guard let json = try? JSONValue.parse(Array(text.utf8)), case .array(let items) = json else {
            throw invalid("\(Self.modulesKey) is not a JSON array")
        }
        for item in items {
            guard let path = item["path"]?.string else { throw invalid("\(Self.modulesKey): an entry has no string 'path'") }
            func int(_ key: String) throws -> Int {
                guard let v = item[key]?.integer else { throw invalid("\(Self.modulesKey) '\(path)': expected integer \(key)") }
                return v
            }
            func bool(_ key: String) throws -> Bool {
                guard case .bool(let v) = item[key] else { throw invalid("\(Self.modulesKey) '\(path)': expected boolean \(key)") }
                return v
            }
            guard let kindName = item["module"]?.string, let kind = ModuleKind(rawValue: kindName) else {
                throw RNNFormatError(.unknownKind, file: file, object: "__metadata__", "\(Self.modulesKey) '\(path)': module is not one of \(ModuleKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let dropout = item["dropout"]?.double, let nlName = item["nonlinearity"]?.string, let nonlinearity = Nonlinearity(rawValue: nlName) else {
                throw invalid("\(Self.modulesKey) '\(path)': expected number dropout and nonlinearity tanh or relu")
            }
            var linearBeforeReset = true
            if let value = item["linear_before_reset"] {
                guard let flag = value.integer, flag == 0 || flag == 1 else {
                    throw invalid("\(Self.modulesKey) '\(path)': expected linear_before_reset 0 or 1")
                }
                linearBeforeReset = flag == 1
            }
            let config = ModuleConfig(kind: kind, inputSize: try int("input_size"), hiddenSize: try int("hidden_size"),
                                      numLayers: try int("num_layers"), bias: try bool("bias"), batchFirst: try bool("batch_first"),
                                      dropout: dropout, bidirectional: try bool("bidirectional"), projSize: try int("proj_size"),
                                      nonlinearity: nonlinearity, linearBeforeReset: linearBeforeReset)
            try config.validate(file: file, object: path)
            guard modules.updateValue(config, forKey: path) == nil else { throw invalid("\(Self.modulesKey): path '\(path)' is listed twice") }
        }
    }

    /// Replaces inferred configurations by declared ones after checking they agree on
    /// everything the tensors determine.
    /// - Throws: `.invalidAttribute` on disagreement, `.missingTensor` for a declared module
    ///   whose tensors are absent.
    func apply(to records: inout [ModuleRecord], file: String) throws {
        guard !modules.isEmpty else { return }
        var found = Set<String>()
        for i in records.indices {
            let inferred = records[i].config
            guard let declared = modules[records[i].path] else { continue }
            found.insert(records[i].path)
            var comparable = declared
            comparable.batchFirst = inferred.batchFirst
            comparable.dropout = inferred.dropout
            comparable.nonlinearity = inferred.nonlinearity
            comparable.linearBeforeReset = inferred.linearBeforeReset
            guard comparable == inferred else {
                throw RNNFormatError(.invalidAttribute, file: file, object: records[i].path,
                                     "__metadata__ declares \(declared.kind.rawValue)(input_size \(declared.inputSize), hidden_size \(declared.hiddenSize), num_layers \(declared.numLayers), bidirectional \(declared.bidirectional), proj_size \(declared.projSize), bias \(declared.bias)) but the tensors give \(inferred.kind.rawValue)(input_size \(inferred.inputSize), hidden_size \(inferred.hiddenSize), num_layers \(inferred.numLayers), bidirectional \(inferred.bidirectional), proj_size \(inferred.projSize), bias \(inferred.bias))")
            }
            records[i].config = declared
            try records[i].validate(file: file, naming: .stateDict)
        }
        if let missing = modules.keys.filter({ !found.contains($0) }).sorted().first {
            throw RNNFormatError(.missingTensor, file: file, object: missing, "__metadata__ declares this module but the file holds none of its tensors")
        }
    }
}
