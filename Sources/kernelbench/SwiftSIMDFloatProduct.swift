// The pure-Swift float product RNNRuntime used before CRNNKernels (commit a207b14, Linear.swift),
// kept here only as the baseline BENCHMARKS.md compares the C kernels against.

/// The float32 product `y = x·Wᵀ + b` with W row-major (out, in): dot products over contiguous
/// memory with eight-lane accumulators. Four weight rows at a time are held in L1 while every
/// input row passes by, so each weight is read from memory once per call whatever the number
/// of rows; four accumulators fit the sixteen SSE registers without spilling.
enum SwiftSIMDFloatProduct {
    typealias Lanes = SIMD8<Float>

    static func product(
        x: UnsafePointer<Float>, rows: Int, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        outFeatures: Int, inFeatures: Int, y: UnsafeMutablePointer<Float>
    ) {
        let n = inFeatures
        let vectorEnd = n & ~7
        var o = 0
        while o + 4 <= outFeatures {
            let w0 = w + o * n, w1 = w0 + n, w2 = w1 + n, w3 = w2 + n
            for r in 0..<rows {
                let x0 = x + r * n
                var a0 = Lanes(), a1 = Lanes(), a2 = Lanes(), a3 = Lanes()
                var k = 0
                while k < vectorEnd {
                    let v = load(x0 + k)
                    a0 += v * load(w0 + k)
                    a1 += v * load(w1 + k)
                    a2 += v * load(w2 + k)
                    a3 += v * load(w3 + k)
                    k += 8
                }
                let y0 = y + r * outFeatures + o
                y0[0] = finish(a0, x0, w0, from: vectorEnd, to: n, bias: bias, o)
                y0[1] = finish(a1, x0, w1, from: vectorEnd, to: n, bias: bias, o + 1)
                y0[2] = finish(a2, x0, w2, from: vectorEnd, to: n, bias: bias, o + 2)
                y0[3] = finish(a3, x0, w3, from: vectorEnd, to: n, bias: bias, o + 3)
            }
            o += 4
        }
        while o < outFeatures {
            let w0 = w + o * n
            for r in 0..<rows {
                let x0 = x + r * n
                var a0 = Lanes()
                var k = 0
                while k < vectorEnd {
                    a0 += load(x0 + k) * load(w0 + k)
                    k += 8
                }
                y[r * outFeatures + o] = finish(a0, x0, w0, from: vectorEnd, to: n, bias: bias, o)
            }
            o += 1
        }
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Lanes {
        UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
    }

    /// Reduces the lanes, adds the scalar tail `x[k]·w[k]` for `k` in `start..<end`, then the bias:
    /// the one order every block shape uses.
    @inline(__always)
    static func finish(
        _ acc: Lanes, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, from start: Int, to end: Int,
        bias: UnsafePointer<Float>?, _ o: Int
    ) -> Float {
        var sum = acc.sum()
        var k = start
        while k < end {
            sum += x[k] * w[k]
            k += 1
        }
        if let bias { sum += bias[o] }
        return sum
    }
}
