/// Conversions between float32 and the narrower float formats checkpoints store, by bit
/// manipulation (`Float16` is not available on every platform Swift supports).
enum ScalarDecoding {
    /// IEEE binary16 to float32 (exact).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        var mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }
            // Subnormal half: normalize into a float32 exponent.
            var e: UInt32 = 113
            while mantissa & 0x400 == 0 {
                mantissa <<= 1
                e -= 1
            }
            return Float(bitPattern: sign | e << 23 | (mantissa & 0x3FF) << 13)
        }
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }

    /// float32 to IEEE binary16, rounding to nearest even (overflow to infinity, NaN kept).
    static func floatToHalf(_ f: Float) -> UInt16 {
        let bits = f.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xFF)
        let mantissa = bits & 0x7F_FFFF
        if exponent == 0xFF { return sign | 0x7C00 | (mantissa != 0 ? 0x200 : 0) }
        let e = exponent - 127 + 15
        if e >= 0x1F { return sign | 0x7C00 }
        if e <= 0 {
            // Subnormal or zero half: shift the full significand, then round half to even.
            if e < -10 { return sign }
            let significand = mantissa | 0x80_0000
            let shift = UInt32(14 - e)
            var half = significand >> shift
            let remainder = significand & ((1 << shift) - 1)
            let halfway = UInt32(1) << (shift - 1)
            if remainder > halfway || (remainder == halfway && half & 1 == 1) { half += 1 }
            return sign | UInt16(half)
        }
        var half = UInt32(e) << 10 | mantissa >> 13
        let remainder = mantissa & 0x1FFF
        if remainder > 0x1000 || (remainder == 0x1000 && half & 1 == 1) { half += 1 }  // may carry into the exponent: correct
        return sign | UInt16(half)
    }

    /// bfloat16 (the top half of a float32) to float32 (exact).
    static func bfloat16ToFloat(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

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
        case .float16: return indices.map { halfToFloat(UInt16(truncatingIfNeeded: raw($0))) }
        case .bfloat16: return indices.map { bfloat16ToFloat(UInt16(truncatingIfNeeded: raw($0))) }
        default: preconditionFailure("floats(_:dtype:) called for \(dtype)")
        }
    }
}
