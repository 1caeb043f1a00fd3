import Foundation

extension ModelFile {
    /// Reads the RNN modules of the model file at `url`.
    ///
    /// Accepts canonical v1 files (spec/FORMAT.md), bare h5py dumps of a state_dict, PyTorch
    /// checkpoints (`torch.save`, zip format) and safetensors files (spec/CHECKPOINTS.md); the
    /// format is told by the first bytes, never by the name. Modules of dumps and checkpoints are
    /// inferred from names and shapes. The restricted reading profile is enforced before any data
    /// is read; every module is validated against its hyperparameters; stored checksums are
    /// verified. Objects that belong to no RNN module are listed in `leftovers`. The file is read
    /// with `pread`, never mapped, and no lock is held: many tasks may load at once.
    ///
    /// - Parameters:
    ///   - url: a file URL (a bundle resource, a downloaded file).
    ///   - options: what a bare dump does not record (`batch_first`, `nonlinearity`); attributes win.
    /// - Throws: `RNNFormatError` naming the file, the object and expected versus found.
    public init(contentsOf url: URL, options: InferenceOptions = InferenceOptions()) throws {
        self = try Self.read(ByteSource(url: url), options: options)
    }

    /// Reads the RNN modules of a model file held in memory (downloaded, or decrypted).
    ///
    /// Reads every format `init(contentsOf:options:)` reads, with the same checks.
    ///
    /// - Parameters:
    ///   - data: the file's bytes.
    ///   - name: how errors name the bytes: `<data: NAME>` (`<data>` when nil).
    ///   - options: as for `init(contentsOf:options:)`.
    /// - Throws: `RNNFormatError` naming the data, the object and expected versus found.
    public init(data: Data, name: String? = nil, options: InferenceOptions = InferenceOptions()) throws {
        self = try Self.read(ByteSource(data: data, label: name), options: options)
    }

    /// `init(contentsOf:options:)` for a path.
    public static func read(path: String, options: InferenceOptions = InferenceOptions()) throws -> ModelFile {
        try read(ByteSource(path: path), options: options)
    }

    static func read(_ source: ByteSource, options: InferenceOptions) throws -> ModelFile {
        var model = try readModel(source, options: options)
        model.source = source.name
        return model
    }

    private static func readModel(_ source: ByteSource, options: InferenceOptions) throws -> ModelFile {
        switch try SourceFormat.detect(source) {
        case .hdf5:
            let result = try HDF5ModelReader.read(source, options: options, checksums: .enforce)
            guard let model = result.model else {
                throw result.mismatches.first ?? RNNFormatError(.malformed, file: source.name, "no model read")
            }
            return model
        case .pytorch:
            return try TorchCheckpoint.read(source, options: options, limits: CheckpointLimits(), checkEveryMember: false)
        case .safetensors:
            return try SafetensorsFile.read(source, options: options)
        }
    }

    /// Checks a whole file: profile, structure, and every stored checksum, reporting each
    /// mismatch rather than stopping at the first.
    ///
    /// - Returns: the report; `mismatches` is non-empty when the data is damaged (modules are
    ///   then not validated, since their values cannot be trusted).
    /// - Throws: `RNNFormatError` for anything other than a checksum mismatch.
    public static func verify(path: String, options: InferenceOptions = InferenceOptions()) throws -> VerificationReport {
        try verify(ByteSource(path: path), options: options)
    }

    /// `verify(path:options:)` for bytes in memory (`name` as for `init(data:name:options:)`).
    public static func verify(data: Data, name: String? = nil, options: InferenceOptions = InferenceOptions()) throws -> VerificationReport {
        try verify(ByteSource(data: data, label: name), options: options)
    }

    static func verify(_ source: ByteSource, options: InferenceOptions) throws -> VerificationReport {
        switch try SourceFormat.detect(source) {
        case .hdf5:
            let result = try HDF5ModelReader.read(source, options: options, checksums: .collect)
            return VerificationReport(model: result.model, checked: result.checked.sorted(),
                                      unchecked: result.unchecked.sorted(), mismatches: result.mismatches)
        case .pytorch:
            // Every archive member (leftovers' storages included) is checked against the zip's
            // CRC-32; reading stops at the first damaged one, so at most one mismatch is reported.
            do {
                let model = try TorchCheckpoint.read(source, options: options, limits: CheckpointLimits(), checkEveryMember: true)
                return VerificationReport(model: model, checked: (model.stateDictKeys + model.leftovers).sorted(), unchecked: [], mismatches: [], checksum: .crc32)
            } catch let error as RNNFormatError where error.code == .checksumMismatch {
                return VerificationReport(model: nil, checked: [], unchecked: [], mismatches: [error], checksum: .crc32)
            }
        case .safetensors:
            // safetensors stores no checksum.
            let model = try SafetensorsFile.read(source, options: options)
            return VerificationReport(model: model, checked: [], unchecked: model.stateDictKeys, mismatches: [], checksum: .none)
        }
    }
}

/// What `ModelFile.verify(path:)` found.
public struct VerificationReport: Sendable {
    /// The validated model; nil when checksums mismatched.
    public var model: ModelFile?
    /// Tensors whose stored checksum matched.
    public var checked: [String]
    /// Tensors without a stored checksum (bare dumps): readable, but not verifiable.
    public var unchecked: [String]
    /// One `.checksumMismatch` error per damaged tensor, naming it.
    public var mismatches: [RNNFormatError]
    /// The checksum the file stores.
    public var checksum: Checksum = .sha256

    /// Kinds of stored checksums.
    public enum Checksum: String, Sendable, Hashable {
        /// One per tensor (RNNKit HDF5 files).
        case sha256
        /// One per torch.save zip member.
        case crc32 = "CRC-32"
        /// None (safetensors, bare h5py dumps carry no checksum attribute).
        case none
    }

    public var isIntact: Bool { mismatches.isEmpty && model != nil }
}

/// The kind of source a file is, told by its first bytes (never by its name).
public enum SourceFormat: String, Sendable, Hashable, Codable {
    case hdf5
    /// `torch.save` output: a zip archive, or the legacy formats (refused with their own message).
    case pytorch = "torch.save"
    case safetensors

    /// Reads the file's first bytes and names the format.
    ///
    /// - Throws: `.io` when the file cannot be read, `.truncated` for an empty file or a
    ///   cut-off signature, `.notRecognized` for other content.
    public static func detect(path: String) throws -> SourceFormat {
        try detect(ByteSource(path: path))
    }

    static func detect(_ source: ByteSource) throws -> SourceFormat {
        let size = source.size
        guard size > 0 else { throw RNNFormatError(.truncated, file: source.name, "empty file (0 bytes); expected a model file") }
        let head = try source.readPrefix(at: 0, maxCount: 8)
        let signature = HDF5Layout.signature
        if head == signature { return .hdf5 }
        // After a user block the signature sits at 512, 1024, 2048, ...
        var offset = 512
        while offset <= size - 8 && offset <= 1 << 20 {
            if try source.read(at: offset, count: 8) == signature { return .hdf5 }
            offset *= 2
        }
        if head.count < 8 && Array(signature.prefix(head.count)) == head {
            throw RNNFormatError(.truncated, file: source.name, "file of \(size) bytes ends inside the HDF5 signature")
        }
        let prefix = try source.readPrefix(at: 0, maxCount: 512)
        if TorchCheckpoint.hasSignature(prefix) { return .pytorch }
        if SafetensorsFile.hasSignature(prefix, fileSize: size) { return .safetensors }
        let found = head.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: " ")
        throw RNNFormatError(.notRecognized, file: source.name,
                             "unrecognized file format: not an HDF5 file (expected signature 89 48 44 46 0d 0a 1a 0a, found \(found)), nor a PyTorch checkpoint (zip) or safetensors file")
    }
}

extension ModelFile {
    /// Every parameter as a state_dict key (`model.encoder.weight_ih_l0`), sorted.
    var stateDictKeys: [String] {
        modules.flatMap { m in m.parameters.keys.map { ObjectNaming.stateDict.name(prefix: m.path, $0) } }.sorted()
    }
}
