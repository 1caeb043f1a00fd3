/// The element types of PyTorch's typed storages, named as `torch.save` pickles them
/// (`torch FloatStorage`, `torch QInt8Storage`, ...). Storage types not listed here (complex,
/// float8, ...) are refused as pickle globals.
enum TorchDType: String, Sendable, Hashable, CaseIterable {
    case float32 = "FloatStorage"
    case float64 = "DoubleStorage"
    case float16 = "HalfStorage"
    case bfloat16 = "BFloat16Storage"
    case int64 = "LongStorage"
    case int32 = "IntStorage"
    case int16 = "ShortStorage"
    case int8 = "CharStorage"
    case uint8 = "ByteStorage"
    case bool = "BoolStorage"
    case qint8 = "QInt8Storage"
    case quint8 = "QUInt8Storage"
    case qint32 = "QInt32Storage"

    var elementSize: Int {
        switch self {
        case .int8, .uint8, .bool, .qint8, .quint8: 1
        case .float16, .bfloat16, .int16: 2
        case .float32, .int32, .qint32: 4
        case .float64, .int64: 8
        }
    }

    var isQuantized: Bool { self == .qint8 || self == .quint8 || self == .qint32 }

    /// PyTorch's dtype name (`torch.float16`), for messages.
    var torchName: String {
        switch self {
        case .float32: "torch.float32"
        case .float64: "torch.float64"
        case .float16: "torch.float16"
        case .bfloat16: "torch.bfloat16"
        case .int64: "torch.int64"
        case .int32: "torch.int32"
        case .int16: "torch.int16"
        case .int8: "torch.int8"
        case .uint8: "torch.uint8"
        case .bool: "torch.bool"
        case .qint8: "torch.qint8"
        case .quint8: "torch.quint8"
        case .qint32: "torch.qint32"
        }
    }

    /// The float element type a parameter of this dtype is stored as; nil for non-float dtypes.
    var floatElementType: ElementType? {
        switch self {
        case .float32: .float32
        case .float64: .float64
        case .float16: .float16
        case .bfloat16: .bfloat16
        default: nil
        }
    }
}

/// A storage a checkpoint's pickle refers to by persistent id: the archive member `data/<key>`
/// holding `count` elements of `dtype`.
struct TorchStorageRef: Sendable, Hashable {
    var key: String
    var dtype: TorchDType
    var count: Int

    /// Bytes the storage member must hold.
    var byteCount: Int? { Checked.multiply(count, dtype.elementSize) }
}

/// PyTorch's quantization parameters of a quantized tensor (`_rebuild_qtensor`).
enum TorchQuantization: Sendable, Hashable {
    /// `torch.per_tensor_affine`: real = scale * (q - zeroPoint).
    case perTensorAffine(scale: Double, zeroPoint: Int)
    /// `torch.per_channel_affine` along `axis`, scales and zero points as tensors.
    case perChannelAffine(scales: TorchTensorRef, zeroPoints: TorchTensorRef, axis: Int)
}

/// A tensor as `_rebuild_tensor_v2` / `_rebuild_qtensor` describe it: a view into a storage.
/// The view is validated against the storage's declared size when built; no data is read.
struct TorchTensorRef: Sendable, Hashable {
    var storage: TorchStorageRef
    var offset: Int
    var shape: [Int]
    var strides: [Int]
    var quantization: QuantizationBox?

    /// Boxes the recursive quantization parameters (per-channel ones hold tensors).
    final class QuantizationBox: Sendable, Hashable {
        let value: TorchQuantization
        init(_ value: TorchQuantization) { self.value = value }
        static func == (a: QuantizationBox, b: QuantizationBox) -> Bool { a.value == b.value }
        func hash(into hasher: inout Hasher) { hasher.combine(value) }
    }

    var elementCount: Int { shape.reduce(1, *) }

    /// The largest rank accepted for a tensor.
    static let maxRank = 32

    /// Validates a view: non-negative sizes, strides and offset, rank within bounds, and every
    /// addressed element inside the storage (checked arithmetic; nothing is allocated).
    /// - Returns: nil when valid, else a description of what is wrong.
    static func viewProblem(storage: TorchStorageRef, offset: Int, shape: [Int], strides: [Int]) -> String? {
        guard shape.count == strides.count else {
            return "size has \(shape.count) dimensions but stride has \(strides.count)"
        }
        guard shape.count <= maxRank else { return "rank \(shape.count) exceeds \(maxRank)" }
        guard offset >= 0, shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
            return "negative offset, size or stride (offset \(offset), size \(shape), stride \(strides))"
        }
        guard let count = Checked.product(shape) else { return "size \(shape) overflows" }
        if count == 0 { return nil }
        var last = offset
        for (n, s) in zip(shape, strides) {
            guard let span = Checked.multiply(n - 1, s), let next = Checked.add(last, span) else {
                return "view (offset \(offset), size \(shape), stride \(strides)) overflows"
            }
            last = next
        }
        guard last < storage.count else {
            return "view (offset \(offset), size \(shape), stride \(strides)) exceeds storage \(storage.key): it reaches element \(last) of \(storage.count)"
        }
        return nil
    }

    /// A row-major view of the first elements of `storage`.
    static func contiguous(_ storage: TorchStorageRef, shape: [Int]) -> TorchTensorRef {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for d in shape.indices.reversed() {
            strides[d] = running
            running *= max(shape[d], 1)
        }
        return TorchTensorRef(storage: storage, offset: 0, shape: shape, strides: strides)
    }

    /// True when the elements are stored in row-major order without gaps from `offset`.
    var isContiguous: Bool {
        var expected = 1
        for d in shape.indices.reversed() where shape[d] != 1 {
            guard strides[d] == expected else { return false }
            expected *= shape[d]
        }
        return true
    }

    /// Calls `body` with the flat storage index of every element, in row-major order of `shape`.
    func forEachStorageIndex(_ body: (Int) -> Void) {
        let count = elementCount
        if count == 0 { return }
        if isContiguous {
            for i in offset..<(offset + count) { body(i) }
            return
        }
        var position = [Int](repeating: 0, count: shape.count)
        var flat = offset
        for _ in 0..<count {
            body(flat)
            // Advance the multi-index like an odometer, last dimension fastest.
            var d = shape.count - 1
            while d >= 0 {
                position[d] += 1
                flat += strides[d]
                if position[d] < shape[d] { break }
                flat -= strides[d] * shape[d]
                position[d] = 0
                d -= 1
            }
        }
    }
}
