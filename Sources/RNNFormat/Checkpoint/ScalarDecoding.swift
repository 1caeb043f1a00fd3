/// Decoding of checkpoint storages into float32, and the one conversion `HalfPrecision`
/// lacks (float32 to bfloat16).
enum ScalarDecoding {
    /// float32 to bfloat16, rounding to nearest even (NaN kept quiet).
    static func floatToBFloat16(_ f: Float) -> UInt16 {
        let bits = f.bitPattern
        if f.isNaN { return UInt16(bits >> 16) | 0x40 }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(rounded >> 16)
    }

    /// Decodes `count` elements of a float storage starting at `bytes[0]` into float32,
    /// picking elements at `indices` (storage element indices).
    static func floats(_ bytes: [UInt8], dtype: TorchDType, bigEndian: Bool, indices: [Int]) -> [Float] {
        let width = dtype.elementSize
        func raw(_ i: Int) -> UInt64 {
            var v: UInt64 = 0
            let start = i * width
            if bigEndian {
                for k in 0..<width { v = v << 8 | UInt64(bytes[start + k]) }
            } else {
                for k in (0..<width).reversed() { v = v << 8 | UInt64(bytes[start + k]) }
            }
            return v
        }
        switch dtype {
        case .float32: return indices.map { Float(bitPattern: UInt32(truncatingIfNeeded: raw($0))) }
        case .float64: return indices.map { Float(Double(bitPattern: raw($0))) }
        case .float16: return indices.map { HalfPrecision.float(fromFloat16: UInt16(truncatingIfNeeded: raw($0))) }
        case .bfloat16: return indices.map { HalfPrecision.float(fromBFloat16: UInt16(truncatingIfNeeded: raw($0))) }
        default: preconditionFailure("floats(_:dtype:) called for \(dtype)")
        }
    }
}
