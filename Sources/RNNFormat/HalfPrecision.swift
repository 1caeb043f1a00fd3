/// IEEE 754 binary16 (float16) and bfloat16 conversions done on bit patterns, so they behave
/// the same on every platform whether or not `Float16` is available.
public enum HalfPrecision {
    /// The float32 value of a float16 bit pattern (exact: every float16 is a float32).
    public static func float(fromFloat16 bits: UInt16) -> Float {
        let sign = UInt32(bits >> 15) << 31
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa * 2^-24, exact in float32.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 31:
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        default:
            return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | mantissa << 13)
        }
    }

    /// The float16 bit pattern nearest to `value` (ties to even); nil when `value` is finite but
    /// beyond float16's range (65504), so callers can report it instead of storing infinity.
    public static func float16Bits(from value: Float) -> UInt16? {
        let bits = value.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        if value.isNaN { return sign | 0x7E00 }
        if value.isInfinite { return sign | 0x7C00 }
        let magnitude = abs(value)
        // Largest float16 is 65504; values rounding to it are those below 65520.
        if magnitude >= 65520 { return nil }
        if magnitude < 0x1p-14 {
            // Subnormal range: round magnitude / 2^-24 to an integer, ties to even.
            let scaled = (magnitude * 0x1p24).rounded(.toNearestOrEven)
            return sign | UInt16(scaled)
        }
        let exponent = Int((bits >> 23) & 0xFF) - 127 + 15
        var mantissa = bits & 0x7F_FFFF
        var half = UInt32(exponent) << 10 | (mantissa >> 13)
        mantissa &= 0x1FFF
        if mantissa > 0x1000 || (mantissa == 0x1000 && half & 1 == 1) {
            half += 1  // carries into the exponent correctly
        }
        return sign | UInt16(half)
    }

    /// The float32 value of a bfloat16 bit pattern (the upper half of a float32).
    public static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }
}
