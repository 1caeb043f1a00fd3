import CRNNKernels

/// SHA-256 (FIPS 180-4), for the per-tensor checksums of spec/FORMAT.md "Integrity".
public struct SHA256: Sendable {
    private var state: [UInt32] = [
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
    ]
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    public init() {}

    /// The digest of `bytes` as 64 lowercase hex digits.
    public static func hex<C: Collection>(of bytes: C) -> String where C.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.hexDigest()
    }

    /// The digest as 64 lowercase hex digits; the hasher is spent afterwards.
    public mutating func hexDigest() -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in finalize() {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Feeds more input.
    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(raw: UnsafeRawBufferPointer($0)) }
        if done == nil {
            Array(bytes).withUnsafeBytes { update(raw: $0) }
        }
    }

    /// Feeds more input from raw memory.
    mutating func update(raw bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var offset = 0
        if !pending.isEmpty {
            let take = min(64 - pending.count, bytes.count)
            pending.append(contentsOf: bytes[0..<take])
            offset = take
            guard pending.count == 64 else { return }
            pending.withUnsafeBytes { compress($0, at: 0, blocks: 1) }
            pending.removeAll(keepingCapacity: true)
        }
        let blocks = (bytes.count - offset) / 64
        if blocks > 0 {
            compress(bytes, at: offset, blocks: blocks)
            offset += 64 * blocks
        }
        pending.append(contentsOf: bytes[offset...])
    }

    /// The 32-byte digest; the hasher is spent afterwards.
    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        var tail = pending
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        tail.withUnsafeBytes { compress($0, at: 0, blocks: $0.count / 64) }
        pending = []
        return state.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * $0)) } }
    }

    /// Compresses `blocks` 64-byte blocks starting at `base` (CRNNKernels: SHA extensions when
    /// the CPU has them, which is what makes verifying checksums cheaper than reading the file).
    private mutating func compress(_ chunk: UnsafeRawBufferPointer, at base: Int, blocks: Int) {
        precondition(base + 64 * blocks <= chunk.count)
        guard blocks > 0, let start = chunk.baseAddress else { return }
        state.withUnsafeMutableBufferPointer { state in
            crnn_sha256_blocks(state.baseAddress, start.advanced(by: base).assumingMemoryBound(to: UInt8.self), blocks)
        }
    }
}
