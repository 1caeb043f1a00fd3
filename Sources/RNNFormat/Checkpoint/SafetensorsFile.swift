#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads and writes safetensors files (https://github.com/huggingface/safetensors).
///
/// Reading enforces the format's rules before any tensor data is touched: an 8-byte
/// little-endian header length of at most 100 MB and within the file, a UTF-8 JSON object
/// header (duplicate keys refused), known dtypes, `shape` product times dtype size equal to
/// each tensor's byte length (checked arithmetic), offsets in bounds, not overlapping and
/// covering the data buffer exactly. Writing is atomic and aligns every tensor to its element
/// size. The names RNNKit writes into `__metadata__` are in spec/CHECKPOINTS.md.
public enum SafetensorsFile {
    /// The largest header accepted (the reference implementation's limit).
    public static let maxHeaderBytes = 100_000_000

    /// safetensors dtypes with their element sizes.
    enum DType: String, CaseIterable {
        case BOOL, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, C64

        var elementSize: Int {
            switch self {
            case .BOOL, .U8, .I8, .F8_E5M2, .F8_E4M3, .F8_E8M0: 1
            case .I16, .U16, .F16, .BF16: 2
            case .I32, .U32, .F32: 4
            case .F64, .I64, .U64, .C64: 8
            }
        }

        /// The storage dtype that decodes this one as floats; nil for non-float dtypes.
        var floatDType: TorchDType? {
            switch self {
            case .F32: .float32
            case .F64: .float64
            case .F16: .float16
            case .BF16: .bfloat16
            default: nil
            }
        }
    }

    /// One tensor of the header.
    struct Entry {
        var name: String
        var dtype: DType
        var shape: [Int]
        /// Byte range within the data buffer.
        var begin: Int
        var end: Int
    }

    /// A validated header.
    struct Header {
        /// Tensors in header order.
        var entries: [Entry]
        var metadata: [String: String]?
        /// File offset of the data buffer.
        var dataOffset: Int
    }

    /// True when `prefix` starts like a safetensors file: an 8-byte header length, then `{`
    /// and the start of a JSON member. Whether the length fits the file is for `read` to
    /// report, with a precise message.
    public static func hasSignature(_ prefix: [UInt8], fileSize: Int) -> Bool {
        guard prefix.count >= 10 else { return false }
        let n = prefix.littleEndianUInt64(at: 0)
        let next = prefix[9]
        return n >= 2 && prefix[8] == UInt8(ascii: "{")
            && (next == UInt8(ascii: "\"") || next == UInt8(ascii: "}") || next == 0x20 || next == 0x0A || next == 0x0D || next == 0x09)
    }

    /// Parses and validates the header of `file`.
    /// - Throws: `.notRecognized`, `.truncated`, `.malformed` (naming the tensor and what is wrong).
    static func readHeader(_ file: ByteSource) throws -> Header {
        let path = file.name
        func malformed(_ message: String, _ object: String? = nil) -> RNNFormatError {
            RNNFormatError(.malformed, file: path, object: object, "safetensors: " + message)
        }
        guard file.size >= 8 else {
            throw RNNFormatError(.notRecognized, file: path, "not a safetensors file: \(file.size) bytes is shorter than the 8-byte header length")
        }
        let declared = try file.read(at: 0, count: 8).littleEndianUInt64(at: 0)
        guard declared <= UInt64(maxHeaderBytes) else {
            throw malformed("header length \(declared) exceeds the limit of \(maxHeaderBytes) bytes")
        }
        guard declared <= UInt64(file.size - 8) else {
            throw RNNFormatError(.truncated, file: path, "safetensors: header length \(declared) passes the end of the file (\(file.size) bytes)")
        }
        let headerLength = Int(declared)
        let headerBytes = try file.read(at: 8, count: headerLength)
        guard headerBytes.first == UInt8(ascii: "{") else { throw malformed("header does not start with '{'") }
        guard String(validatingUTF8Bytes: headerBytes) != nil else { throw malformed("header is not valid UTF-8") }
        let json: JSONValue
        do {
            json = try JSONValue.parse(headerBytes)
        } catch {
            throw malformed("header is not valid JSON: \(error.message) at byte \(error.offset)")
        }
        guard case .object(let members) = json else { throw malformed("header is not a JSON object") }

        let dataOffset = 8 + headerLength
        let dataSize = file.size - dataOffset
        var entries: [Entry] = []
        var metadata: [String: String]?
        for (name, value) in members {
            if name == "__metadata__" {
                guard case .object(let pairs) = value else { throw malformed("__metadata__ is not an object of strings") }
                var map: [String: String] = [:]
                for (k, v) in pairs {
                    guard let s = v.string else { throw malformed("__metadata__ value of '\(k)' is not a string") }
                    map[k] = s
                }
                metadata = map
                continue
            }
            guard case .object(let fields) = value else { throw malformed("tensor entry is not an object", name) }
            for (field, _) in fields where !["dtype", "shape", "data_offsets"].contains(field) {
                throw malformed("unknown field '\(field)' in tensor entry", name)
            }
            guard let dtypeName = value["dtype"]?.string else { throw malformed("missing dtype", name) }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw malformed("unknown dtype '\(dtypeName)' (known: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))", name)
            }
            guard case .array(let dims) = value["shape"], dims.count <= TorchTensorRef.maxRank else {
                throw malformed("shape is missing or has more than \(TorchTensorRef.maxRank) dimensions", name)
            }
            var shape: [Int] = []
            for d in dims {
                guard let v = d.integer, v >= 0 else { throw malformed("shape holds a value that is not a non-negative integer", name) }
                shape.append(v)
            }
            guard case .array(let offsets) = value["data_offsets"], offsets.count == 2,
                  let begin = offsets[0].integer, let end = offsets[1].integer
            else { throw malformed("data_offsets is not a pair of integers", name) }
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw malformed("data_offsets [\(begin), \(end)] are outside the data buffer of \(dataSize) bytes", name)
            }
            guard let count = Checked.product(shape), let bytes = Checked.multiply(count, dtype.elementSize), bytes == end - begin else {
                throw malformed("shape \(shape) of \(dtypeName) needs \(Checked.product(shape).flatMap { Checked.multiply($0, dtype.elementSize) }.map(String.init) ?? "an overflowing number of") bytes, data_offsets give \(end - begin)", name)
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }
        // The data buffer must be covered exactly: sorted ranges are contiguous from 0 to its end.
        var expected = 0
        for entry in entries.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard entry.begin == expected else {
                throw malformed(entry.begin < expected ? "data_offsets overlap the previous tensor's (which ends at \(expected))"
                                                       : "data buffer has a hole: bytes \(expected)..<\(entry.begin) belong to no tensor", entry.name)
            }
            expected = entry.end
        }
        guard expected == dataSize else {
            throw malformed("tensors cover \(expected) bytes but the data buffer holds \(dataSize)")
        }
        return Header(entries: entries, metadata: metadata, dataOffset: dataOffset)
    }

    // MARK: reading

    /// Reads the RNN modules of a safetensors file whose keys are state_dict names.
    ///
    /// Files written by `write` carry their hyperparameters in `__metadata__`; for others,
    /// modules are inferred from names and shapes (`options` supply batch_first and the RNN
    /// nonlinearity). int8 weights need `<name>.scale` (F32) and `<name>.zero_point` (I32).
    /// - Throws: `RNNFormatError`: `.malformed` for a header that breaks the rules,
    ///   `.moduleNotFound` when no RNN is found, module errors naming the tensor.
    public static func read(path: String, options: InferenceOptions = InferenceOptions(),
                            limits: CheckpointLimits = CheckpointLimits()) throws -> ModelFile {
        try read(ByteSource(path: path), options: options, limits: limits)
    }

    /// `read(path:options:limits:)` from any byte source.
    static func read(_ file: ByteSource, options: InferenceOptions, limits: CheckpointLimits = CheckpointLimits()) throws -> ModelFile {
        let path = file.name
        let header = try readHeader(file)
        let byName = Dictionary(header.entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var bytesRead = 0
        func data(_ entry: Entry) throws -> [UInt8] {
            guard let total = Checked.add(bytesRead, entry.end - entry.begin), total <= limits.maxTensorBytes else {
                throw RNNFormatError(.refused, file: path, object: entry.name, "reading it would pass the limit of \(limits.maxTensorBytes) tensor bytes")
            }
            bytesRead = total
            return try file.read(at: header.dataOffset + entry.begin, count: entry.end - entry.begin)
        }

        var candidates: [String: Parameter] = [:]
        var sidecars = Set<String>()
        for entry in header.entries where ParameterName(splitStateDictKey(entry.name).name) != nil {
            if entry.dtype == .I8 {
                candidates[entry.name] = .quantized(try quantized(entry, byName: byName, file: path, data: data))
                sidecars.formUnion([entry.name + ".scale", entry.name + ".zero_point"])
            } else if let dtype = entry.dtype.floatDType, let stored = dtype.floatElementType {
                let view = TorchTensorRef.contiguous(TorchStorageRef(key: entry.name, dtype: dtype, count: (entry.end - entry.begin) / entry.dtype.elementSize), shape: entry.shape)
                let values = ScalarDecoding.floats(try data(entry), dtype: dtype, bigEndian: false, view: view)
                candidates[entry.name] = .float(Tensor(shape: entry.shape, trusted: values), stored: stored)
            } else {
                throw RNNFormatError(.unsupportedType, file: path, object: entry.name,
                                     "expected F32, F16, BF16 or F64 (or I8 with .scale and .zero_point), found \(entry.dtype.rawValue)")
            }
        }
        let keys = header.entries.filter { !sidecars.contains($0.name) }.map { (key: $0.name, description: "\($0.shape) \($0.dtype.rawValue)") }
        let namespace = CheckpointAssembly.Namespace(outerPath: [], candidates: candidates, keys: keys)
        let declared = try SafetensorsMetadata(header.metadata ?? [:], file: path)
        var model = try CheckpointAssembly.assemble([namespace], options: options, file: path, metadata: declared.fileMetadata)
        try declared.apply(to: &model.modules, file: path)
        return model
    }

    /// An int8 weight with its `.scale` (F32) and `.zero_point` (I32) tensors.
    private static func quantized(_ entry: Entry, byName: [String: Entry], file: String, data: (Entry) throws -> [UInt8]) throws -> QuantizedTensor {
        guard entry.shape.count == 2 else {
            throw RNNFormatError(.shapeMismatch, file: file, object: entry.name, "expected an int8 matrix (rank 2), found shape \(entry.shape)")
        }
        guard let scaleEntry = byName[entry.name + ".scale"], let zeroEntry = byName[entry.name + ".zero_point"] else {
            throw RNNFormatError(.missingTensor, file: file, object: entry.name,
                                 "an I8 weight needs \(entry.name).scale (F32) and \(entry.name).zero_point (I32)")
        }
        let rows = entry.shape[0]
        for (sidecar, dtype) in [(scaleEntry, DType.F32), (zeroEntry, DType.I32)] {
            let count = Checked.product(sidecar.shape) ?? -1
            guard sidecar.dtype == dtype, sidecar.shape.count <= 1, count == 1 || count == rows, sidecar.shape.count == 1 || count == 1 else {
                throw RNNFormatError(.invalidAttribute, file: file, object: sidecar.name,
                                     "expected \(dtype.rawValue) of shape [] (per tensor) or [\(rows)] (per row), found \(sidecar.dtype.rawValue) \(sidecar.shape)")
            }
        }
        let scaleBytes = try data(scaleEntry)
        let zeroBytes = try data(zeroEntry)
        let scales = (0..<(scaleBytes.count / 4)).map { Float(bitPattern: scaleBytes.littleEndianUInt32(at: $0 * 4)) }
        let zeroPoints = (0..<(zeroBytes.count / 4)).map { Int32(bitPattern: zeroBytes.littleEndianUInt32(at: $0 * 4)) }
        guard scales.count == zeroPoints.count else {
            throw RNNFormatError(.invalidAttribute, file: file, object: entry.name, "\(scales.count) scales but \(zeroPoints.count) zero points")
        }
        if let bad = zeroPoints.first(where: { $0 < -128 || $0 > 127 }) {
            throw RNNFormatError(.invalidAttribute, file: file, object: zeroEntry.name, "expected zero points in -128...127, found \(bad)")
        }
        let values = try data(entry).map { Int8(bitPattern: $0) }
        return QuantizedTensor(shape: entry.shape, trusted: values, scales: scales, zeroPoints: zeroPoints)
    }

    // MARK: writing

    /// Writes the modules of `model` as a safetensors file, atomically.
    ///
    /// Float parameters are written as F32, or as F16/BF16 when that is how they were stored;
    /// int8 weights as I8 with `<name>.scale` (F32) and `<name>.zero_point` (I32). Tensor names
    /// are `<module path>.<PyTorch name>`, so `safetensors.torch.load_file` gives a state_dict.
    /// Hyperparameters and file metadata go to `__metadata__` (spec/CHECKPOINTS.md).
    /// - Throws: `.alreadyExists` when `path` exists and `overwrite` is false; validation
    ///   errors for an inconsistent module; `.io`.
    public static func write(_ model: ModelFile, to path: String, overwrite: Bool = false) throws {
        // Bytes are produced one tensor at a time while writing, so memory holds one copy of the model.
        struct Output {
            var name: String
            var dtype: DType
            var shape: [Int]
            var encode: () throws -> [UInt8]
            var byteCount: Int { shape.reduce(dtype.elementSize, *) }
        }
        var outputs: [Output] = []
        for module in model.modules {
            try module.validate(file: path, naming: .stateDict)
            for spec in module.config.expectedParameters {
                guard let parameter = module.parameters[spec.name] else { continue }
                let name = ObjectNaming.stateDict.name(prefix: module.path, spec.name)
                switch parameter {
                case .float(let tensor, .float16):
                    outputs.append(Output(name: name, dtype: .F16, shape: tensor.shape) {
                        var bits: [UInt16] = []
                        bits.reserveCapacity(tensor.count)
                        for (i, v) in tensor.scalars.enumerated() {
                            guard let b = HalfPrecision.float16Bits(from: v) else {
                                throw RNNFormatError(.unsupported, file: path, object: name, "value \(v) at flat index \(i) exceeds the float16 range it is stored in")
                            }
                            bits.append(b)
                        }
                        return littleEndianBytes(bits)
                    })
                case .float(let tensor, .bfloat16):
                    outputs.append(Output(name: name, dtype: .BF16, shape: tensor.shape) { littleEndianBytes(tensor.scalars.map(ScalarDecoding.floatToBFloat16)) })
                case .float(let tensor, _):
                    outputs.append(Output(name: name, dtype: .F32, shape: tensor.shape) { littleEndianBytes(tensor.scalars.map(\.bitPattern)) })
                case .quantized(let q):
                    let sidecarShape = q.scheme == .perTensor ? [] : [q.rows]
                    outputs.append(Output(name: name, dtype: .I8, shape: q.shape) { q.values.map { UInt8(bitPattern: $0) } })
                    outputs.append(Output(name: name + ".scale", dtype: .F32, shape: sidecarShape) { littleEndianBytes(q.scales.map(\.bitPattern)) })
                    outputs.append(Output(name: name + ".zero_point", dtype: .I32, shape: sidecarShape) { littleEndianBytes(q.zeroPoints.map { UInt32(bitPattern: $0) }) })
                }
            }
        }
        var seen = Set<String>()
        for output in outputs where !seen.insert(output.name).inserted {
            throw RNNFormatError(.malformed, file: path, object: output.name, "two modules would write a tensor of this name")
        }
        // Wider elements first keeps every tensor aligned to its element size (header padded to 8).
        outputs.sort { ($0.dtype.elementSize, $1.name) > ($1.dtype.elementSize, $0.name) }

        var members: [(String, JSONValue)] = [("__metadata__", .object(SafetensorsMetadata.encode(model).sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))]
        var offset = 0
        for output in outputs {
            members.append((output.name, .object([
                ("dtype", .string(output.dtype.rawValue)),
                ("shape", .array(output.shape.map(JSONValue.int))),
                ("data_offsets", .array([.int(offset), .int(offset + output.byteCount)])),
            ])))
            offset += output.byteCount
        }
        var header = Array(JSONValue.object(members).serialized.utf8)
        header.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8))
        guard header.count <= maxHeaderBytes else {
            throw RNNFormatError(.unsupported, file: path, "header of \(header.count) bytes would exceed the safetensors limit of \(maxHeaderBytes)")
        }

        try AtomicFile.write(to: path, overwrite: overwrite) { temporary in
            try writeFile(temporary, reportedAs: path, [{ littleEndianBytes([UInt64(header.count)]) }, { header }] + outputs.map(\.encode))
        }
    }
}

/// Little-endian bytes of fixed-width integers.
func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    if T(1).littleEndian == T(1) {
        return values.withUnsafeBytes { Array($0) }
    }
    var out: [UInt8] = []
    out.reserveCapacity(values.count * MemoryLayout<T>.size)
    for v in values {
        var x = v.littleEndian
        withUnsafeBytes(of: &x) { out.append(contentsOf: $0) }
    }
    return out
}

/// Creates `path` and writes the chunks `produce` yields, one at a time (the caller syncs and
/// moves the file into place).
/// - Throws: `RNNFormatError(.io)` naming `reportedAs`, or what a producer throws.
private func writeFile(_ path: String, reportedAs target: String, _ produce: [() throws -> [UInt8]]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw RNNFormatError(.io, file: target, "cannot create \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    for next in produce {
        let chunk = try next()
        var done = 0
        while done < chunk.count {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RNNFormatError(.io, file: target, "write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }
}
