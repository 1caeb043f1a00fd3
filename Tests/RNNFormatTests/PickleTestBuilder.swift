/// Emits pickle opcodes for tests: the same bytes Python's pickler writes for protocol 2,
/// plus whatever a hostile file might contain.
struct PickleTestBuilder {
    private(set) var bytes: [UInt8] = [0x80, 2]

    @discardableResult
    mutating func op(_ code: UInt8, _ argument: [UInt8] = []) -> Self {
        bytes.append(code)
        bytes += argument
        return self
    }

    mutating func global(_ module: String, _ name: String) { op(0x63, Array((module + "\n" + name + "\n").utf8)) }
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        op(0x58, le32(utf8.count) + utf8)
    }
    mutating func int(_ v: Int) {
        if (0..<256).contains(v) {
            op(0x4B, [UInt8(v)])
        } else if Int32(exactly: v) != nil {
            op(0x4A, le32(v))
        } else {
            op(0x8A, [8] + (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) })  // LONG1
        }
    }
    mutating func float(_ v: Double) {
        var bits = v.bitPattern
        var big: [UInt8] = []
        for _ in 0..<8 { big.insert(UInt8(bits & 0xFF), at: 0); bits >>= 8 }
        op(0x47, big)
    }
    mutating func mark() { op(0x28) }
    mutating func tuple() { op(0x74) }
    mutating func emptyTuple() { op(0x29) }
    mutating func emptyDict() { op(0x7D) }
    mutating func emptyList() { op(0x5D) }
    mutating func setItems() { op(0x75) }
    mutating func setItem() { op(0x73) }
    mutating func append() { op(0x61) }
    mutating func reduce() { op(0x52) }
    mutating func none() { op(0x4E) }
    mutating func bool(_ b: Bool) { op(b ? 0x88 : 0x89) }
    mutating func put(_ i: Int) { op(0x71, [UInt8(i)]) }
    mutating func get(_ i: Int) { op(0x68, [UInt8(i)]) }
    mutating func stop() { op(0x2E) }

    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`
    /// over the persistent id ('storage', <dtype>Storage, key, 'cpu', count).
    mutating func tensor(storage: String = "FloatStorage", key: String, count: Int, offset: Int = 0, shape: [Int], stride: [Int]? = nil) {
        global("torch._utils", "_rebuild_tensor_v2")
        mark()
        mark(); string("storage"); global("torch", storage); string(key); string("cpu"); int(count); tuple()
        op(0x51)  // BINPERSID
        int(offset)
        mark(); for d in shape { int(d) }; tuple()
        let strides = stride ?? Self.contiguousStrides(shape)
        mark(); for s in strides { int(s) }; tuple()
        bool(false)
        global("collections", "OrderedDict"); emptyTuple(); reduce()
        tuple()
        reduce()
    }

    /// A dict of `entries` (string keys) whose values are emitted by the closures.
    mutating func dict(_ entries: [(String, (inout PickleTestBuilder) -> Void)]) {
        emptyDict()
        for (key, value) in entries {
            string(key)
            value(&self)
            setItem()
        }
    }

    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for d in shape.indices.reversed() {
            strides[d] = running
            running = running &* max(shape[d], 1)
        }
        return strides
    }

    private func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}

/// A torch.save-like archive: `archive/data.pkl`, `archive/byteorder`, `archive/data/<key>`.
func torchArchive(pickle: [UInt8], storages: [String: [UInt8]] = [:], byteorder: String? = "little") -> [UInt8] {
    var zip = ZipTestBuilder()
    zip.stored("archive/data.pkl", pickle)
    if let byteorder { zip.stored("archive/byteorder", Array(byteorder.utf8)) }
    for (key, bytes) in storages.sorted(by: { $0.key < $1.key }) { zip.stored("archive/data/" + key, bytes) }
    zip.stored("archive/version", Array("3\n".utf8))
    return zip.bytes()
}

/// Little-endian float32 bytes.
func float32Bytes(_ values: [Float], bigEndian: Bool = false) -> [UInt8] {
    values.flatMap { v -> [UInt8] in
        let b = (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) }
        return bigEndian ? b.reversed() : b
    }
}
