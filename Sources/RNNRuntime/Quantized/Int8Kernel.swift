/// The exact u8 × s8 → int32 matrix product behind every int8 `Linear`.
///
/// `acc[r, j] = Σ_k a[r, k] · b[j, k]` with `a` (rows, K) row-major uint8 activations and `b`
/// (N, K) row-major int8 weights, both contiguous along K. Products fit int16 (|255·-128| <
/// 2¹⁵) and sums use wrapping int32 arithmetic, as PyTorch's int32 accumulator does; the
/// result is exact while K·32640 < 2³¹ (K < 65793).
enum Int8Kernel {
    /// Weight rows processed together so each activation chunk is loaded once for all of them.
    static let rowBlock = 4

    /// - Parameters:
    ///   - a: (rows, inFeatures) activations.
    ///   - b: (outFeatures, inFeatures) weights.
    ///   - acc: (rows, outFeatures) accumulators; overwritten.
    static func multiply(
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

    @inline(__always)
    private static func load(_ p: UnsafePointer<UInt8>) -> SIMD16<Int16> {
        SIMD16<Int16>(truncatingIfNeeded: UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt8>.self))
    }

    @inline(__always)
    private static func load(_ p: UnsafePointer<Int8>) -> SIMD16<Int16> {
        SIMD16<Int16>(truncatingIfNeeded: UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Int8>.self))
    }

    /// Adds the 16 int16 products `x · w` pairwise into 8 int32 lanes.
    @inline(__always)
    private static func accumulate(_ acc: inout SIMD8<Int32>, _ x: SIMD16<Int16>, _ w: SIMD16<Int16>) {
        let p = x &* w
        acc &+= SIMD8<Int32>(truncatingIfNeeded: p.evenHalf) &+ SIMD8<Int32>(truncatingIfNeeded: p.oddHalf)
    }

    @inline(__always)
    private static func dot4(
        _ x: UnsafePointer<UInt8>, _ w0: UnsafePointer<Int8>, _ w1: UnsafePointer<Int8>,
        _ w2: UnsafePointer<Int8>, _ w3: UnsafePointer<Int8>, count: Int
    ) -> (Int32, Int32, Int32, Int32) {
        var a0 = SIMD8<Int32>.zero, a1 = SIMD8<Int32>.zero
        var a2 = SIMD8<Int32>.zero, a3 = SIMD8<Int32>.zero
        var i = 0
        while i + 16 <= count {
            let xv = load(x + i)
            accumulate(&a0, xv, load(w0 + i))
            accumulate(&a1, xv, load(w1 + i))
            accumulate(&a2, xv, load(w2 + i))
            accumulate(&a3, xv, load(w3 + i))
            i += 16
        }
        var s0 = a0.wrappedSum(), s1 = a1.wrappedSum(), s2 = a2.wrappedSum(), s3 = a3.wrappedSum()
        while i < count {
            let xi = Int32(x[i])
            s0 &+= xi &* Int32(w0[i])
            s1 &+= xi &* Int32(w1[i])
            s2 &+= xi &* Int32(w2[i])
            s3 &+= xi &* Int32(w3[i])
            i += 1
        }
        return (s0, s1, s2, s3)
    }

    @inline(__always)
    private static func dot1(_ x: UnsafePointer<UInt8>, _ w: UnsafePointer<Int8>, count: Int) -> Int32 {
        var a = SIMD8<Int32>.zero
        var i = 0
        while i + 16 <= count {
            accumulate(&a, load(x + i), load(w + i))
            i += 16
        }
        var s = a.wrappedSum()
        while i < count {
            s &+= Int32(x[i]) &* Int32(w[i])
            i += 1
        }
        return s
    }
}
