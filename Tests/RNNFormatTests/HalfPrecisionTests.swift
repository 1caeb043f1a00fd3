import Testing
import _RNNKitTestSupport
@testable import RNNFormat

@Suite("float16 and bfloat16 conversions")
struct HalfPrecisionTests {
    @Test("IEEE 754 binary16 reference bit patterns", arguments: [
        (UInt16(0x3C00), Float(1)), (0xC000, -2), (0x7BFF, 65504), (0x0001, 0x1p-24), (0x0400, 0x1p-14),
        (0x03FF, 0x1.ff8p-15), (0x3555, 0.333251953125), (0x0000, 0), (0x8000, -0.0), (0x7C00, .infinity), (0xFC00, -.infinity),
    ])
    func reference(bits: UInt16, value: Float) {
        let decoded = HalfPrecision.float(fromFloat16: bits)
        #expect(decoded == value && decoded.sign == value.sign)
        #expect(HalfPrecision.float16Bits(from: value) == bits)
    }

    @Test("every non-NaN float16 pattern survives decode then encode")
    func allPatterns() {
        for bits in UInt16.min...UInt16.max {
            let value = HalfPrecision.float(fromFloat16: bits)
            if value.isNaN {
                #expect(HalfPrecision.float16Bits(from: value).map { $0 & 0x7C00 == 0x7C00 && $0 & 0x3FF != 0 } == true)
            } else {
                #expect(HalfPrecision.float16Bits(from: value) == bits)
            }
        }
    }

    @Test("rounding is to nearest, ties to even; beyond 65504 is reported, not stored as infinity")
    func rounding() {
        #expect(HalfPrecision.float16Bits(from: 1 + 0x1p-11) == 0x3C00)  // tie, even below
        #expect(HalfPrecision.float16Bits(from: 1 + 3 * 0x1p-11) == 0x3C02)  // tie, even above
        #expect(HalfPrecision.float16Bits(from: 1 + 0x1p-11 + 0x1p-20) == 0x3C01)
        #expect(HalfPrecision.float16Bits(from: 0x1p-25) == 0x0000)  // tie between 0 and smallest subnormal
        #expect(HalfPrecision.float16Bits(from: 0x1.8p-24) == 0x0002)  // tie, even above
        #expect(HalfPrecision.float16Bits(from: 65519) == 0x7BFF)
        #expect(HalfPrecision.float16Bits(from: 65520) == nil)
        #expect(HalfPrecision.float16Bits(from: 0x1.ffcp-15) == 0x0400)  // subnormal rounds up to the smallest normal
    }

    #if !(os(macOS) && arch(x86_64))
    @Test("encoding agrees with the platform's Float16 on random values")
    func platformAgreement() {
        var rng = SeededGenerator(seed: 16)
        for _ in 0..<20000 {
            let value = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng) & 0x477F_FFFF | (UInt32.random(in: 0...1, using: &rng) << 31))
            guard !value.isNaN, abs(value) < 65504 else { continue }
            #expect(HalfPrecision.float16Bits(from: value) == Float16(value).bitPattern, "\(value)")
        }
    }
    #endif

    @Test("bfloat16 is the upper half of a float32")
    func bfloat16() {
        #expect(HalfPrecision.float(fromBFloat16: 0x3F80) == 1)
        #expect(HalfPrecision.float(fromBFloat16: 0xC0A0) == -5)
    }
}
