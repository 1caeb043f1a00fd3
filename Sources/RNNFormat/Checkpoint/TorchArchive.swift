/// A `torch.save` or `torch.jit.save` zip archive: `<root>/data.pkl`, `<root>/data/<key>`
/// storages and the `<root>/byteorder` record. Reads storages on demand, checks each one's size against the
/// pickle's declaration, and keeps the total read under a byte budget.
final class TorchArchive {
    let zip: ZipArchive
    /// The archive's top-level directory (`archive`, or the saved file's stem).
    let root: String
    let bigEndian: Bool
    let limits: CheckpointLimits
    /// The last storage read: views of one storage are usually materialized one after another.
    /// Keeping one bounds memory to one storage beyond the decoded tensors.
    private var cached: (key: String, bytes: [UInt8])?
    private var bytesRead = 0

    var path: String { zip.file.name }
    var pickleMember: String { root + "/data.pkl" }

    /// Locates the pickle and byte order of a torch.save archive.
    /// - Throws: `.notRecognized` for a zip without `<root>/data.pkl` (TorchScript archives
    ///   without one are named as such), `.malformed` for an unknown byte order or several
    ///   pickles. TorchScript archives (`torch.jit.save`) have a `data.pkl` like torch.save's;
    ///   their `code/` and `constants.pkl` are never read.
    init(zip: ZipArchive, limits: CheckpointLimits) throws {
        self.zip = zip
        self.limits = limits
        let path = zip.file.name
        let pickles = zip.entries.filter { entry in
            let parts = entry.name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "data.pkl" && !parts[0].isEmpty
        }
        guard pickles.count == 1, let pickle = pickles.first else {
            if pickles.count > 1 {
                throw RNNFormatError(.malformed, file: path, "torch archive holds \(pickles.count) data.pkl records: \(pickles.map(\.name).joined(separator: ", "))")
            }
            if zip.entries.contains(where: { $0.name.hasSuffix("/constants.pkl") || $0.name.contains("/code/") }) {
                throw RNNFormatError(.notRecognized, file: path,
                                     "a TorchScript archive (torch.jit.save) without <root>/data.pkl, which holds its modules' parameters: nothing to import")
            }
            throw RNNFormatError(.notRecognized, file: path, "zip archive without <root>/data.pkl: not a torch.save checkpoint")
        }
        root = String(pickle.name.dropLast("/data.pkl".count))
        if let entry = zip.entry(named: root + "/byteorder") {
            let text = String(decoding: try zip.read(entry, maxBytes: 16), as: UTF8.self)
            switch text {
            case "little": bigEndian = false
            case "big": bigEndian = true
            default:
                throw RNNFormatError(.malformed, file: path, object: entry.name, "expected byte order 'little' or 'big', found '\(text.prefix(16))'")
            }
        } else {
            // Archives written before the record existed are little-endian.
            bigEndian = false
        }
    }

    /// The bytes of `data.pkl`.
    func pickleBytes() throws -> [UInt8] {
        guard let entry = zip.entry(named: pickleMember) else {
            throw RNNFormatError(.notRecognized, file: path, "no \(pickleMember)")
        }
        return try zip.read(entry, maxBytes: limits.pickle.maxPickleBytes)
    }

    private func storageEntry(_ storage: TorchStorageRef) throws -> ZipArchive.Entry {
        let name = root + "/data/" + storage.key
        guard let entry = zip.entry(named: name) else {
            throw RNNFormatError(.missingTensor, file: path, object: name, "the pickle refers to storage \(storage.key), which the archive does not hold")
        }
        guard let needed = storage.byteCount, entry.uncompressedSize == needed else {
            throw RNNFormatError(.malformed, file: path, object: name,
                                 "storage member holds \(entry.uncompressedSize) bytes; the pickle declares \(storage.count) elements of \(storage.dtype.torchName) (\(storage.byteCount.map(String.init) ?? "overflowing") bytes)")
        }
        return entry
    }

    /// Checks that the member of every storage exists with exactly the declared size,
    /// without reading any data.
    func checkStorage(_ storage: TorchStorageRef) throws {
        _ = try storageEntry(storage)
    }

    /// The raw bytes of a storage (re-read, and counted again, when another came in between).
    /// - Throws: `.refused` when reading it would pass the total tensor byte budget.
    func storageBytes(_ storage: TorchStorageRef) throws -> [UInt8] {
        if let cached, cached.key == storage.key { return cached.bytes }
        cached = nil
        let entry = try storageEntry(storage)
        guard let total = Checked.add(bytesRead, entry.uncompressedSize), total <= limits.maxTensorBytes else {
            throw RNNFormatError(.refused, file: path, object: entry.name,
                                 "reading this storage (\(entry.uncompressedSize) bytes) would pass the limit of \(limits.maxTensorBytes) tensor bytes")
        }
        let bytes = try zip.read(entry, maxBytes: entry.uncompressedSize)
        bytesRead = total
        cached = (storage.key, bytes)
        return bytes
    }

    /// A float tensor's values as float32, gathered through its view (any offset and strides).
    /// - Throws: `.unsupportedType` for a non-float dtype, naming `key`.
    func floatTensor(_ ref: TorchTensorRef, key: String) throws -> (Tensor, ElementType) {
        guard let stored = ref.storage.dtype.floatElementType, ref.quantization == nil else {
            throw RNNFormatError(.unsupportedType, file: path, object: key,
                                 "expected a float tensor (float16, bfloat16, float32 or float64), found \(ref.storage.dtype.torchName)")
        }
        let bytes = try storageBytes(ref.storage)
        let values = ScalarDecoding.floats(bytes, dtype: ref.storage.dtype, bigEndian: bigEndian, view: ref)
        return (Tensor(shape: ref.shape, trusted: values), stored)
    }

    /// A qint8 per-tensor quantized matrix with PyTorch's exact integers, scale and zero point.
    /// - Throws: `.unsupportedType` for other quantized dtypes or schemes, `.shapeMismatch`
    ///   for a non-matrix, `.invalidAttribute` for a scale or zero point outside range.
    func quantizedMatrix(_ ref: TorchTensorRef, key: String) throws -> QuantizedTensor {
        guard ref.storage.dtype == .qint8, let quantization = ref.quantization?.value else {
            throw RNNFormatError(.unsupportedType, file: path, object: key,
                                 "expected a torch.qint8 quantized weight, found \(ref.storage.dtype.torchName)")
        }
        guard ref.shape.count == 2 else {
            throw RNNFormatError(.shapeMismatch, file: path, object: key, "expected a quantized matrix (rank 2), found shape \(ref.shape)")
        }
        guard case .perTensorAffine(let scale, let zeroPoint) = quantization else {
            throw RNNFormatError(.unsupportedType, file: path, object: key,
                                 "per-channel quantized RNN weights are not supported (PyTorch's dynamic quantization of RNNs is per-tensor)")
        }
        let floatScale = Float(scale)
        guard floatScale.isFinite, floatScale > 0, let zp = Int32(exactly: zeroPoint), zp >= -128, zp <= 127 else {
            throw RNNFormatError(.invalidAttribute, file: path, object: key,
                                 "expected a positive finite scale and a zero point in -128...127, found scale \(scale) and zero point \(zeroPoint)")
        }
        let bytes = try storageBytes(ref.storage)
        var values: [Int8] = []
        values.reserveCapacity(ref.elementCount)
        ref.forEachStorageIndex { values.append(Int8(bitPattern: bytes[$0])) }
        return QuantizedTensor(shape: ref.shape, trusted: values, scales: [floatScale], zeroPoints: [zp])
    }
}

/// Bounds on reading a PyTorch checkpoint.
public struct CheckpointLimits: Sendable, Hashable {
    public var zip: ZipLimits
    public var pickle: PickleLimits
    /// Most storage bytes read in total (only storages of RNN parameters are read).
    public var maxTensorBytes: Int

    public init(zip: ZipLimits = ZipLimits(), pickle: PickleLimits = PickleLimits(), maxTensorBytes: Int = 8 << 30) {
        self.zip = zip
        self.pickle = pickle
        self.maxTensorBytes = maxTensorBytes
    }
}
