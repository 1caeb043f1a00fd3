/// The exact u8 × s8 → int32 matrix product behind every int8 `Linear`.
///
/// `acc[r, j] = Σ_k a[r, k] · b[j, k]` with `a` (rows, K) row-major uint8 activations and `b`
/// (N, K) row-major int8 weights, both contiguous along K. Products fit int16 (|255·-128| <
/// 2¹⁵) and sums use wrapping int32 arithmetic, as PyTorch's int32 accumulator does; the
/// result is exact while K·32640 < 2³¹ (K ≤ 65793).
package enum Int8Kernel {
    /// Weight rows processed together so each activation chunk is loaded once for all of them.
    static let rowBlock = 4

    /// - Parameters:
    ///   - a: (rows, inFeatures) activations.
    ///   - b: (outFeatures, inFeatures) weights.
    ///   - acc: (rows, outFeatures) accumulators; overwritten.
    package static func multiply(
        _ a: UnsafePointer<UInt8>, rows: Int, _ b: UnsafePointer<Int8>,
        outFeatures: Int, inFeatures: Int, into acc: UnsafeMutablePointer<Int32>
    ) {
        let k = inFeatures
        var j = 0
        while j + rowBlock <= outFeatures {
            let b0 = b + j * k
            for r in 0..<rows {
                let sums = dot4(a + r * k, b0, b0 + k, b0 + 2 * k, b0 + 3 * k, count: k)
                let out = acc + r * outFeatures + j
                out[0] = sums.0
                out[1] = sums.1
                out[2] = sums.2
                out[3] = sums.3
            }
            j += rowBlock
        }
        while j < outFeatures {
            let b0 = b + j * k
            for r in 0..<rows {
                acc[r * outFeatures + j] = dot1(a + r * k, b0, count: k)
            }
            j += 1
        }
    }

    /// Bytes handled per vector step: 8 int32 lanes of 4 bytes each.
    private static let step = 32

    /// A 32-byte chunk as 8 int32 lanes, each holding 4 consecutive bytes.
    @inline(__always)
    private static func lanes(_ p: UnsafeRawPointer) -> SIMD8<Int32> {
        p.loadUnaligned(as: SIMD8<Int32>.self)
    }

    /// The 4 bytes of each lane as unsigned values, byte `i` of every lane in `.i`.
    /// Shifts and masks instead of `SIMD(truncatingIfNeeded:)`, which the stdlib does not inline.
    @inline(__always)
    private static func unsignedBytes(_ v: SIMD8<Int32>) -> (SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>) {
        let m = SIMD8<Int32>(repeating: 0xFF)
        return (v & m, (v &>> 8) & m, (v &>> 16) & m, (v &>> 24) & m)
    }

    /// The 4 bytes of each lane sign-extended.
    @inline(__always)
    private static func signedBytes(_ v: SIMD8<Int32>) -> (SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>) {
        ((v &<< 24) &>> 24, (v &<< 16) &>> 24, (v &<< 8) &>> 24, v &>> 24)
    }

    /// Adds the 32 products of one activation chunk and one weight chunk into 8 int32 lanes.
    /// Every operand fits 16 bits, so the multiplies lower to 16-bit multiply-adds.
    @inline(__always)
    private static func accumulate(
        _ acc: inout SIMD8<Int32>,
        _ x: (SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>), _ w: SIMD8<Int32>
    ) {
        let w = signedBytes(w)
        acc &+= (x.0 &* w.0 &+ x.1 &* w.1) &+ (x.2 &* w.2 &+ x.3 &* w.3)
    }

    @inline(__always)
    private static func dot4(
        _ x: UnsafePointer<UInt8>, _ w0: UnsafePointer<Int8>, _ w1: UnsafePointer<Int8>,
        _ w2: UnsafePointer<Int8>, _ w3: UnsafePointer<Int8>, count: Int
    ) -> (Int32, Int32, Int32, Int32) {
        var a0 = SIMD8<Int32>.zero, a1 = SIMD8<Int32>.zero
        var a2 = SIMD8<Int32>.zero, a3 = SIMD8<Int32>.zero
        var i = 0
        while i &+ step <= count {
            let xv = unsignedBytes(lanes(x + i))
            accumulate(&a0, xv, lanes(w0 + i))
            accumulate(&a1, xv, lanes(w1 + i))
            accumulate(&a2, xv, lanes(w2 + i))
            accumulate(&a3, xv, lanes(w3 + i))
            i &+= step
        }
        var s0 = a0.wrappedSum(), s1 = a1.wrappedSum(), s2 = a2.wrappedSum(), s3 = a3.wrappedSum()
        while i < count {
            let xi = Int32(x[i])
            s0 &+= xi &* Int32(w0[i])
            s1 &+= xi &* Int32(w1[i])
            s2 &+= xi &* Int32(w2[i])
            s3 &+= xi &* Int32(w3[i])
            i &+= 1
        }
        return (s0, s1, s2, s3)
    }

    @inline(__always)
    private static func dot1(_ x: UnsafePointer<UInt8>, _ w: UnsafePointer<Int8>, count: Int) -> Int32 {
        var a = SIMD8<Int32>.zero
        var i = 0
        while i &+ step <= count {
            accumulate(&a, unsignedBytes(lanes(x + i)), lanes(w + i))
            i &+= step
        }
        var s = a.wrappedSum()
        while i < count {
            s &+= Int32(x[i]) &* Int32(w[i])
            i &+= 1
        }
        return s
    }
}
