import CRNNKernels
import Testing
import _RNNKitTestSupport
import RNNRuntime
import RNNFormat

/// The float32 product kernel against a Double reference.
///
/// Tolerance: |y - ref| <= (k + 2) · 2⁻²⁴ · (Σ|x·w| + |b|), the worst-case rounding bound of a
/// k-term float32 sum in any order; a wrong index or a dropped term is off by far more.
@Suite struct KernelFloatTests {
    /// (outFeatures, inFeatures, rows): columns and outputs around the panel width 16 and the
    /// unroll of 4, a single column, a single row, a 3H x H recurrent shape; full groups of 8
    /// panels with 2-7 rows (the group tile) over more than one 64-column block, ending in a
    /// partial, padded group; a matrix over 1 MiB with 10 rows (the group tile too).
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (16, 1, 3), (17, 8, 1), (15, 3, 5), (33, 9, 4), (47, 17, 7),
        (64, 100, 2), (384, 128, 1), (96, 257, 9), (5, 31, 16), (768, 256, 1),
        (128, 64, 2), (300, 130, 5), (256, 1, 3), (400, 200, 7), (129, 65, 4), (520, 520, 10),
    ]

    @Test(arguments: KernelISA.allCases, shapes)
    func productMatchesDoubleReference(isa: KernelISA, shape: (Int, Int, Int)) {
        let (n, k, rows) = shape
        var rng = SeededGenerator(seed: UInt64(n * 1_000_003 + k * 1009 + rows))
        let w = rng.floats(n * k), b = rng.floats(n), x = rng.floats(rows * k, in: -2...2)
        let m = PackedFloatMatrix(weights: w, outFeatures: n, inFeatures: k, bias: b)
        var y = [Float](repeating: .nan, count: rows * n)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { m.apply(xp, rows: rows, into: $0, isa: isa) }
        }
        for r in 0..<rows {
            for j in 0..<n {
                var ref = Double(b[j]), mag = Double(abs(b[j]))
                for c in 0..<k {
                    ref += Double(x[r * k + c]) * Double(w[j * k + c])
                    mag += abs(Double(x[r * k + c]) * Double(w[j * k + c]))
                }
                let bound = Double(k + 2) * 0x1p-24 * mag
                #expect(abs(Double(y[r * n + j]) - ref) <= bound, "row \(r) out \(j): \(y[r * n + j]) vs \(ref)")
            }
        }
    }

    @Test(arguments: KernelISA.allCases)
    func stridesAndNoBias(isa: KernelISA) {
        let (n, k, rows, ldx, ldy) = (21, 13, 6, 16, 30)
        var rng = SeededGenerator(seed: 7)
        let w = rng.floats(n * k), x = rng.floats(rows * ldx)
        let m = PackedFloatMatrix(weights: w, outFeatures: n, inFeatures: k, bias: nil)
        let sentinel: Float = -12345
        var y = [Float](repeating: sentinel, count: rows * ldy)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer {
                m.apply(xp, rows: rows, xStride: ldx, into: $0, yStride: ldy, isa: isa)
            }
        }
        for r in 0..<rows {
            for j in 0..<ldy {
                guard j < n else {
                    #expect(y[r * ldy + j] == sentinel, "stride gap written at row \(r) col \(j)")
                    continue
                }
                var ref = 0.0, mag = 0.0
                for c in 0..<k {
                    ref += Double(x[r * ldx + c]) * Double(w[j * k + c])
                    mag += abs(Double(x[r * ldx + c]) * Double(w[j * k + c]))
                }
                #expect(abs(Double(y[r * ldy + j]) - ref) <= Double(k + 2) * 0x1p-24 * mag)
            }
        }
    }

    /// The runtime's streaming contract: one row per call gives bit-identical results to the
    /// same row inside a many-row call, whatever its position in the block.
    /// The last shape has more rows than the product takes at once (x is cut into chunks of a
    /// quarter of the L2), and a partial last chunk.
    @Test(arguments: KernelISA.allCases, [(40, 33, 13), (384, 128, 9), (17, 5, 3), (300, 130, 7), (256, 70, 4),
                                          (40, 1000, 2 * Int(crnn_l2_cache_bytes()) / 4 / 4001 + 5)])
    func rowsAreIndependentOfTheBlock(isa: KernelISA, shape: (Int, Int, Int)) {
        let (n, k, rows) = shape
        var rng = SeededGenerator(seed: UInt64(n + k + rows))
        let w = rng.floats(n * k), b = rng.floats(n), x = rng.floats(rows * k)
        let m = PackedFloatMatrix(weights: w, outFeatures: n, inFeatures: k, bias: b)
        var block = [Float](repeating: 0, count: rows * n), single = block
        x.withUnsafeBufferPointer { xp in
            block.withUnsafeMutableBufferPointer { m.apply(xp, rows: rows, into: $0, isa: isa) }
            single.withUnsafeMutableBufferPointer { yp in
                for r in 0..<rows {
                    m.apply(UnsafeBufferPointer(rebasing: xp[(r * k)..<((r + 1) * k)]), rows: 1,
                            into: UnsafeMutableBufferPointer(rebasing: yp[(r * n)..<((r + 1) * n)]), isa: isa)
                }
            }
        }
        #expect(block.map(\.bitPattern) == single.map(\.bitPattern))
    }

    /// A one-row product visiting its blocks of 128 rows last to first (what alternating steps
    /// do) gives the forward product bit for bit, over the whole matrix and over a split's part.
    @Test(arguments: KernelISA.allCases, [(300, 130), (384, 128), (129, 65), (1040, 17), (256, 1)])
    func backwardOrderGivesTheSameRow(isa: KernelISA, shape: (Int, Int)) {
        let (n, k) = shape
        var rng = SeededGenerator(seed: UInt64(n * 31 + k))
        let w = rng.floats(n * k), b = rng.floats(n), x = rng.floats(k)
        let m = PackedFloatMatrix(weights: w, outFeatures: n, inFeatures: k, bias: b)
        for outputs in [0..<n, 128..<n] {
            var forward = [Float](repeating: .nan, count: n), backward = forward
            x.withUnsafeBufferPointer { xp in
                forward.withUnsafeMutableBufferPointer { m.apply(xp, rows: 1, into: $0, outputs: outputs, isa: isa) }
                backward.withUnsafeMutableBufferPointer { m.apply(xp, rows: 1, into: $0, outputs: outputs, backward: true, isa: isa) }
            }
            #expect(forward.map(\.bitPattern) == backward.map(\.bitPattern), "outputs \(outputs)")
            #expect(forward[outputs].allSatisfy { !$0.isNaN } && forward[..<outputs.lowerBound].allSatisfy(\.isNaN))
        }
    }
}
