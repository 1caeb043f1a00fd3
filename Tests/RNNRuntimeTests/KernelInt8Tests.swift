import Testing
import _RNNKitTestSupport
import RNNRuntime
import RNNFormat

/// The u8 × s8 kernel: accumulators equal to an Int64 reference, and the epilogue bit-identical
/// to `fmaf(Float(acc - zp·colsum), xs·ws[j], bias[j])` computed in Swift (Float.addingProduct is
/// one fused rounding).
@Suite struct KernelInt8Tests {
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (16, 4, 1), (17, 5, 3), (15, 3, 4), (33, 9, 5), (47, 31, 7),
        (64, 100, 2), (384, 128, 1), (96, 257, 9), (5, 33, 16), (768, 256, 1),
        // One row with groups of 4 past the last eight (the one-row kernel's tail) and a partial panel.
        (40, 45, 1), (17, 130, 1),
        // One row by blocks of 128 rows: groups of 4 past the last sixteen, a partial last block.
        (260, 70, 1),
    ]

    struct Case {
        let n: Int, k: Int, rows: Int, padded: Int
        let w: [Int8], xq: [UInt8], bias: [Float], scales: [Float]

        init(_ shape: (Int, Int, Int), maxActivation: UInt8, perRowScales: Bool) {
            (n, k, rows) = shape
            padded = (k + 3) / 4 * 4
            var rng = SeededGenerator(seed: UInt64(n * 7919 + k * 31 + rows + (perRowScales ? 1 : 0)))
            w = (0..<n * k).map { _ in Int8.random(in: .min ... .max, using: &rng) }
            // Padding bytes hold garbage on purpose: their weights are zero.
            xq = (0..<rows * padded).map { _ in UInt8.random(in: 0...maxActivation, using: &rng) }
            bias = rng.floats(n)
            scales = perRowScales ? rng.floats(n, in: 1e-4...1e-2) : [0.0037]
        }

        func referenceAccumulators() -> [Int64] {
            var acc = [Int64](repeating: 0, count: rows * n)
            for r in 0..<rows {
                for j in 0..<n {
                    var s: Int64 = 0
                    for c in 0..<k { s += Int64(xq[r * padded + c]) * Int64(w[j * k + c]) }
                    acc[r * n + j] = s
                }
            }
            return acc
        }
    }

    @Test(arguments: KernelISA.allCases, shapes)
    func accumulatorsAreExact(isa: KernelISA, shape: (Int, Int, Int)) {
        let c = Case(shape, maxActivation: 127, perRowScales: false)
        let m = PackedInt8Matrix(values: c.w, outFeatures: c.n, inFeatures: c.k, scales: c.scales, bias: c.bias)
        var acc = [Int32](repeating: .min, count: c.rows * c.n)
        c.xq.withUnsafeBufferPointer { xp in
            acc.withUnsafeMutableBufferPointer { m.accumulate(xp, rows: c.rows, maxCode: 127, into: $0, isa: isa) }
        }
        #expect(acc.map(Int64.init) == c.referenceAccumulators())
    }

    @Test(arguments: KernelISA.allCases, [false, true])
    func epilogueIsBitIdentical(isa: KernelISA, perRowScales: Bool) {
        for shape in Self.shapes {
          for rowKernel in [Int8RowKernel.panels, .blocks] {
            let c = Case(shape, maxActivation: 127, perRowScales: perRowScales)
            let m = PackedInt8Matrix(values: c.w, outFeatures: c.n, inFeatures: c.k, scales: c.scales, bias: c.bias)
            let colsum = (0..<c.n).map { j in (0..<c.k).reduce(Int64(0)) { $0 + Int64(c.w[j * c.k + $1]) } }
            #expect(m.columnSumValues.map(Int64.init) == colsum)
            let (xs, zp): (Float, Int32) = (0.0213, 37)
            var y = [Float](repeating: .nan, count: c.rows * c.n)
            c.xq.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer {
                    m.apply(xp, rows: c.rows, scale: xs, zeroPoint: zp, maxCode: 127, into: $0, isa: isa, rowKernel: rowKernel)
                }
            }
            let acc = c.referenceAccumulators()
            for r in 0..<c.rows {
                for j in 0..<c.n {
                    let corrected = Float(acc[r * c.n + j] - Int64(zp) * colsum[j])
                    let ws = c.scales.count == 1 ? c.scales[0] : c.scales[j]
                    let ref = c.bias[j].addingProduct(corrected, xs * ws)
                    #expect(y[r * c.n + j].bitPattern == ref.bitPattern, "\(shape) \(rowKernel) row \(r) out \(j)")
                }
            }
          }
        }
    }

    /// 128 · (-128) twice is -32768, the last sum vpmaddubsw holds without saturating.
    @Test(arguments: KernelISA.allCases)
    func extremeCodesStayExact(isa: KernelISA) {
        let (n, k) = (20, 12)
        let w = [Int8](repeating: -128, count: n * k)
        let xq = [UInt8](repeating: 128, count: k)
        let m = PackedInt8Matrix(values: w, outFeatures: n, inFeatures: k, scales: [1], bias: nil)
        var acc = [Int32](repeating: 0, count: n)
        xq.withUnsafeBufferPointer { xp in
            acc.withUnsafeMutableBufferPointer { m.accumulate(xp, rows: 1, maxCode: 128, into: $0, isa: isa) }
        }
        #expect(acc == [Int32](repeating: Int32(k) * 128 * -128, count: n))
    }

    /// Codes above 128 would saturate vpmaddubsw; the wrapper routes them to an exact path.
    @Test(arguments: KernelISA.allCases)
    func codesAbove128AreExact(isa: KernelISA) {
        let c = Case((40, 23, 3), maxActivation: 255, perRowScales: false)
        let m = PackedInt8Matrix(values: c.w, outFeatures: c.n, inFeatures: c.k, scales: c.scales, bias: nil)
        let top = Int(c.xq.enumerated().filter { $0.offset % c.padded < c.k }.map(\.element).max()!)
        var acc = [Int32](repeating: 0, count: c.rows * c.n)
        c.xq.withUnsafeBufferPointer { xp in
            acc.withUnsafeMutableBufferPointer { m.accumulate(xp, rows: c.rows, maxCode: top, into: $0, isa: isa) }
        }
        #expect(top > 128)
        #expect(acc.map(Int64.init) == c.referenceAccumulators())
    }

    /// The backward one-row product (`KernelFloatTests.backwardOrderGivesTheSameRow`) gives the
    /// forward one bit for bit.
    @Test(arguments: KernelISA.allCases, [(300, 130, 1), (384, 128, 1), (129, 65, 1), (1040, 17, 1), (256, 1, 1)])
    func backwardOrderGivesTheSameRow(isa: KernelISA, shape: (Int, Int, Int)) {
        let c = Case(shape, maxActivation: 127, perRowScales: true)
        let m = PackedInt8Matrix(values: c.w, outFeatures: c.n, inFeatures: c.k, scales: c.scales, bias: c.bias)
        for rowKernel in [Int8RowKernel.panels, .blocks] {
        for outputs in [0..<c.n, 128..<c.n] {
            var forward = [Float](repeating: .nan, count: c.n), backward = forward
            c.xq.withUnsafeBufferPointer { xp in
                forward.withUnsafeMutableBufferPointer {
                    m.apply(xp, rows: 1, scale: 0.0213, zeroPoint: 37, maxCode: 127, into: $0, outputs: outputs, isa: isa,
                            rowKernel: rowKernel)
                }
                backward.withUnsafeMutableBufferPointer {
                    m.apply(xp, rows: 1, scale: 0.0213, zeroPoint: 37, maxCode: 127, into: $0, outputs: outputs,
                            backward: true, isa: isa, rowKernel: rowKernel)
                }
            }
            #expect(forward.map(\.bitPattern) == backward.map(\.bitPattern), "outputs \(outputs) \(rowKernel)")
            #expect(forward[outputs].allSatisfy { !$0.isNaN } && forward[..<outputs.lowerBound].allSatisfy(\.isNaN))
        }
        }
    }
}
