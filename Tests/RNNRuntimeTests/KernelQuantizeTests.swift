import Testing
import _RNNKitTestSupport
import RNNRuntime
import RNNFormat

/// Activation range and quantization passes against scalar Swift written from the note's rule:
/// q = clamp(roundHalfEven(x · inv) + zp, 0, 255), the product in float32.
@Suite struct KernelQuantizeTests {
    static func reference(_ v: Float, _ inv: Float, _ zp: Int32) -> UInt8 {
        let t = (v * inv).rounded(.toNearestOrEven)
        guard t > -1e10 else { return 0 }
        return UInt8(max(0, min(255, Int64(min(t, 1e10)) + Int64(zp))))
    }

    @Test(arguments: KernelISA.allCases, [(1, 1), (1, 7), (3, 8), (2, 9), (5, 33), (16, 256), (100, 40), (2, 300)])
    func quantizeMatchesReference(isa: KernelISA, shape: (Int, Int)) {
        let (rows, cols) = shape
        let padded = (cols + 3) / 4 * 4, ldx = cols + 3
        var rng = SeededGenerator(seed: UInt64(rows * 131 + cols))
        var x = rng.floats(rows * ldx, in: -3...5)
        // Exact ties (k + 0.5 at inv = 16) and values far outside the range.
        for i in Swift.stride(from: 0, to: x.count, by: 5) { x[i] = Float(Int.random(in: -40...40, using: &rng)) / 16 + 1 / 32 }
        if x.count > 3 { x[1] = 1e20; x[2] = -1e20; x[3] = .infinity }
        let inv: Float = 16, zp: Int32 = 29
        var q = [UInt8](repeating: 0xAB, count: rows * padded)
        let top = x.withUnsafeBufferPointer { xp in
            q.withUnsafeMutableBufferPointer {
                QuantizeKernel.quantize(xp, rows: rows, cols: cols, xStride: ldx, inverseScale: inv, zeroPoint: zp,
                                        into: $0, isa: isa)
            }
        }
        var expectedTop = 0
        for r in 0..<rows {
            for c in 0..<padded {
                let got = q[r * padded + c]
                if c < cols {
                    let want = Self.reference(x[r * ldx + c], inv, zp)
                    expectedTop = max(expectedTop, Int(want))
                    #expect(got == want, "row \(r) col \(c): x = \(x[r * ldx + c])")
                } else {
                    #expect(got == 0, "padding not zeroed at row \(r) col \(c)")
                }
            }
        }
        #expect(top == expectedTop)
    }

    @Test(arguments: KernelISA.allCases, [(1, 1), (1, 7), (3, 8), (2, 17), (7, 130), (2, 300)])
    func minMaxMatchesReference(isa: KernelISA, shape: (Int, Int)) {
        let (rows, cols) = shape
        let ldx = cols + 2
        var rng = SeededGenerator(seed: UInt64(rows * 17 + cols))
        var x = rng.floats(rows * ldx, in: -4...4)
        // Values in the stride gaps must not count.
        for r in 0..<rows { x[r * ldx + cols] = 100; x[r * ldx + cols + 1] = -100 }
        if cols > 2 { x[1] = .nan }
        let valid = (0..<rows).flatMap { r in (0..<cols).map { x[r * ldx + $0] } }.filter { !$0.isNaN }
        let (lo, hi) = x.withUnsafeBufferPointer {
            QuantizeKernel.minMax($0, rows: rows, cols: cols, stride: ldx, isa: isa)
        }
        #expect(lo == valid.min()!)
        #expect(hi == valid.max()!)
    }
}
