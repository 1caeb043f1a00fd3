/// Imports RNN modules from PyTorch checkpoints written by `torch.save` (the zip format).
///
/// The file may be a bare `state_dict` or any dict nesting one or more state_dicts (a
/// training checkpoint `{"epoch": 7, "model": state_dict, "optimizer": ...}`). Every RNN
/// module found is imported, float or dynamically quantized (int8); other tensors are
/// reported as leftovers. Nothing in the file is executed: spec/CHECKPOINTS.md lists what
/// the pickle may contain and the limits applied.
public enum TorchCheckpoint {
    /// True when `prefix` (the first bytes of a file) looks like a torch.save checkpoint in
    /// either the zip or the legacy format.
    public static func hasSignature(_ prefix: [UInt8]) -> Bool {
        ZipArchive.hasSignature(prefix) || legacyKind(prefix) != nil
    }

    /// Reads the RNN modules of a checkpoint.
    ///
    /// - Parameters:
    ///   - path: the `.pt`/`.pth` file.
    ///   - options: what the file cannot tell (batch_first, RNN nonlinearity).
    ///   - limits: bounds on archive, pickle and tensor sizes.
    /// - Returns: the modules (paths as the state_dict names them) and, in `leftovers`, the
    ///   tensors that belong to none.
    /// - Throws: `RNNFormatError`: `.refusedPickle` for anything outside the pickle allow-list,
    ///   `.unsupportedVersion` for the legacy format, `.moduleNotFound` when no RNN is found,
    ///   `.malformed`/`.truncated`/`.checksumMismatch`/`.refused` for damaged or hostile files.
    public static func read(path: String, options: InferenceOptions = InferenceOptions(),
                            limits: CheckpointLimits = CheckpointLimits()) throws -> ModelFile {
        try read(ByteSource(path: path), options: options, limits: limits, checkEveryMember: false)
    }

    /// `read`, and with `checkEveryMember` the CRC-32 of every archive member is verified too,
    /// not only of the storages the modules use (`ModelFile.verify`).
    static func read(_ file: ByteSource, options: InferenceOptions, limits: CheckpointLimits, checkEveryMember: Bool) throws -> ModelFile {
        let path = file.name
        let prefix = try file.readPrefix(at: 0, maxCount: 512)
        if let legacy = legacyKind(prefix) {
            if legacy == .pickleStream {
                // Not imported, but scanned: a hostile legacy file is named for what it is.
                do {
                    try Unpickler.scan(try file.readPrefix(at: 0, maxCount: limits.pickle.maxPickleBytes), count: 4, file: path, limits: limits.pickle)
                } catch let error as RNNFormatError where error.code == .refusedPickle {
                    throw error
                } catch {}
            }
            throw RNNFormatError(.unsupportedVersion, file: path,
                                 "legacy (non-zip) torch.save format is unsupported; re-save with a current torch.save (this file is \(legacy.rawValue))")
        }
        guard ZipArchive.hasSignature(prefix) else {
            throw RNNFormatError(.notRecognized, file: path, "not a PyTorch checkpoint: no zip signature")
        }
        let zip = try ZipArchive(file: file, limits: limits.zip)
        if checkEveryMember {
            for entry in zip.entries {
                _ = try zip.read(entry, maxBytes: Int.max)
            }
        }
        let archive = try TorchArchive(zip: zip, limits: limits)
        let graph = try Unpickler.load(try archive.pickleBytes(), file: path, member: archive.pickleMember, limits: limits.pickle)
        // Every storage must exist with exactly its declared size, read or not.
        for storage in graph.storages.values.sorted(by: { $0.key < $1.key }) {
            try archive.checkStorage(storage)
        }
        let search = try StateDictSearch(graph: graph, limits: limits.pickle, file: path)
        let unpacker = QuantizedCheckpoint(graph: graph, archive: archive)

        var namespaces: [CheckpointAssembly.Namespace] = []
        for dict in search.tensorDicts {
            var candidates = try unpacker.unpack(dict.entries)
            var keys: [(key: String, description: String)] = []
            for (key, value) in dict.entries {
                keys.append((key, describe(value)))
                guard case .tensor(let ref) = value, ParameterName(splitStateDictKey(key).name) != nil else { continue }
                guard candidates[key] == nil else {
                    throw RNNFormatError(.malformed, file: path, object: key, "given both as a tensor and inside packed quantized weights")
                }
                if ref.quantization != nil {
                    candidates[key] = .quantized(try archive.quantizedMatrix(ref, key: key))
                } else {
                    let (tensor, stored) = try archive.floatTensor(ref, key: key)
                    candidates[key] = .float(tensor, stored: stored)
                }
            }
            namespaces.append(CheckpointAssembly.Namespace(outerPath: dict.outerPath, candidates: candidates, keys: keys))
        }
        return try CheckpointAssembly.assemble(namespaces, looseTensors: search.looseTensors, options: options, file: path,
                                               metadata: FileMetadata(formatVersion: nil, producer: graph.records.isEmpty ? "torch.save" : Self.torchScriptProducer))
    }

    /// The producer recorded for a TorchScript archive (`torch.jit.save`), whose modules are read
    /// from its object tree.
    public static let torchScriptProducer = "torch.jit.save"

    /// A short description of a state_dict value for messages: `[7, 5] torch.float32`.
    static func describe(_ value: PickleValue) -> String {
        switch value {
        case .tensor(let ref): "\(ref.shape) \(ref.storage.dtype.torchName)"
        case .scriptObject: "(packed quantized)"
        default: value.kindName
        }
    }

    enum LegacyKind: String {
        case pickleStream = "a bare pickle stream"
        case tar = "a tar archive"
    }

    /// What kind of legacy checkpoint `prefix` starts, if any: the pre-1.6 pickle stream
    /// (protocol header then the magic number) or the older tar layout.
    static func legacyKind(_ prefix: [UInt8]) -> LegacyKind? {
        if prefix.count >= 2, prefix[0] == 0x80, (1...5).contains(prefix[1]) { return .pickleStream }
        if prefix.count >= 262, Array(prefix[257..<262]) == Array("ustar".utf8) { return .tar }
        return nil
    }
}
