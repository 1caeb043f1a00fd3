#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ModelFile {
    /// Reads the RNN modules of a model file.
    ///
    /// Accepts canonical v1 files (spec/FORMAT.md), bare h5py dumps of a state_dict, PyTorch
    /// checkpoints (`torch.save`, zip format) and safetensors files (spec/CHECKPOINTS.md); the
    /// format is told by the first bytes, never by the name. Modules of dumps and checkpoints are
    /// inferred from names and shapes. The restricted reading profile is enforced before any data
    /// is read; every module is validated against its hyperparameters; stored checksums are
    /// verified. Objects that belong to no RNN module are listed in `leftovers`.
    ///
    /// - Parameters:
    ///   - path: the file.
    ///   - options: what a bare dump does not record (`batch_first`, `nonlinearity`); attributes win.
    /// - Throws: `RNNFormatError` naming the file, the object and expected versus found.
    public static func read(path: String, options: InferenceOptions = InferenceOptions()) throws -> ModelFile {
        switch try SourceFormat.detect(path: path) {
        case .hdf5:
            let result = try HDF5ModelReader.read(path: path, options: options, checksums: .enforce)
            guard let model = result.model else {
                throw result.mismatches.first ?? RNNFormatError(.malformed, file: path, "no model read")
            }
            return model
        case .pytorch:
            return try TorchCheckpoint.read(path: path, options: options)
        case .safetensors:
            return try SafetensorsFile.read(path: path, options: options)
        }
    }

    /// Writes a canonical v1 file atomically.
    ///
    /// The file is built in a temporary file in the target's directory, flushed, closed,
    /// synced and renamed into place: readers see the old file or the complete new one, and a
    /// failure leaves no partial output. Modules are validated first; every tensor gets a
    /// `sha256` attribute.
    ///
    /// - Parameters:
    ///   - path: the output file.
    ///   - overwrite: replace an existing file; when false an existing file is refused.
    /// - Throws: `RNNFormatError`: `.alreadyExists`, `.io`, validation errors naming the tensor,
    ///   `.hdf5(function:)`.
    public func write(to path: String, overwrite: Bool) throws {
        try write(to: path, overwrite: overwrite, failure: nil)
    }

    /// `write(to:overwrite:)` with a hook a test uses to make the write fail at a given stage.
    func write(to path: String, overwrite: Bool, failure: ((WriteStage) throws -> Void)?) throws {
        try HDF5ModelWriter.check(self, file: path)
        try AtomicFile.write(to: path, overwrite: overwrite, beforeCommit: { try failure?(.beforeCommit) }) { temporary in
            try HDF5ModelWriter.write(self, temporary: temporary, file: path, failure: failure)
        }
    }

    /// Checks a whole file: profile, structure, and every stored checksum, reporting each
    /// mismatch rather than stopping at the first.
    ///
    /// - Returns: the report; `mismatches` is non-empty when the data is damaged (modules are
    ///   then not validated, since their values cannot be trusted).
    /// - Throws: `RNNFormatError` for anything other than a checksum mismatch.
    public static func verify(path: String, options: InferenceOptions = InferenceOptions()) throws -> VerificationReport {
        switch try SourceFormat.detect(path: path) {
        case .hdf5:
            let result = try HDF5ModelReader.read(path: path, options: options, checksums: .collect)
            return VerificationReport(model: result.model, checked: result.checked.sorted(),
                                      unchecked: result.unchecked.sorted(), mismatches: result.mismatches)
        case .pytorch:
            // Every archive member (leftovers' storages included) is checked against the zip's
            // CRC-32; reading stops at the first damaged one, so at most one mismatch is reported.
            do {
                let model = try TorchCheckpoint.read(path: path, options: options, limits: CheckpointLimits(), checkEveryMember: true)
                return VerificationReport(model: model, checked: (model.stateDictKeys + model.leftovers).sorted(), unchecked: [], mismatches: [], checksum: "CRC-32")
            } catch let error as RNNFormatError where error.code == .checksumMismatch {
                return VerificationReport(model: nil, checked: [], unchecked: [], mismatches: [error], checksum: "CRC-32")
            }
        case .safetensors:
            // safetensors stores no checksum.
            let model = try SafetensorsFile.read(path: path, options: options)
            return VerificationReport(model: model, checked: [], unchecked: model.stateDictKeys, mismatches: [], checksum: "none")
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
    /// The checksum the file stores: `sha256` (RNNKit HDF5), `CRC-32` (torch.save zip members),
    /// `none` (safetensors).
    public var checksum: String = "sha256"

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
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw RNNFormatError(.io, file: path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw RNNFormatError(.io, file: path, "cannot stat: \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw RNNFormatError(.io, file: path, "not a regular file") }
        let size = Int(info.st_size)
        guard size > 0 else { throw RNNFormatError(.truncated, file: path, "empty file (0 bytes); expected a model file") }

        func bytes(at offset: Int, count: Int) -> [UInt8] {
            var buffer = [UInt8](repeating: 0, count: count)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return n > 0 ? Array(buffer.prefix(n)) : []
        }
        let head = bytes(at: 0, count: 8)
        let signature = HDF5Layout.signature
        if head == signature { return .hdf5 }
        // After a user block the signature sits at 512, 1024, 2048, ...
        var offset = 512
        while offset + 8 <= size && offset <= 1 << 20 {
            if bytes(at: offset, count: 8) == signature { return .hdf5 }
            offset *= 2
        }
        if head.count < 8 && Array(signature.prefix(head.count)) == head {
            throw RNNFormatError(.truncated, file: path, "file of \(size) bytes ends inside the HDF5 signature")
        }
        let prefix = bytes(at: 0, count: 512)
        if TorchCheckpoint.hasSignature(prefix) { return .pytorch }
        if SafetensorsFile.hasSignature(prefix, fileSize: size) { return .safetensors }
        let found = head.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: " ")
        throw RNNFormatError(.notRecognized, file: path,
                             "unrecognized file format: not an HDF5 file (expected signature 89 48 44 46 0d 0a 1a 0a, found \(found)), nor a PyTorch checkpoint (zip) or safetensors file")
    }
}

extension ModelFile {
    /// Every parameter as a state_dict key (`model.encoder.weight_ih_l0`), sorted.
    var stateDictKeys: [String] {
        modules.flatMap { m in m.parameters.keys.map { ObjectNaming.stateDict.name(prefix: m.path, $0) } }.sorted()
    }
}
