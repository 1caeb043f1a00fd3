import Foundation
import RNNRuntime
import Testing
import _RNNKitTestSupport
import RNNFormat

/// Vector sigmoid/tanh and the fused GRU/LSTM updates against Double references.
@Suite struct KernelCellTests {
    /// A dense sweep of [-30, 30], the polynomial/exp switch of tanh at ±0.625, tiny and huge values.
    static let inputs: [Float] = {
        var xs = (0...120_000).map { Float(-30 + Double($0) * 0.0005) }
        xs += [0, -0, 0.625, -0.625, Float(0.625).nextDown, 1e-30, -1e-30, 1e-8, 87, 88.5, 89, -87, -88.5, -89, 200, -200,
               .infinity, -.infinity, .leastNormalMagnitude]
        return xs
    }()

    static func apply(_ f: (UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) -> Void) -> [Float] {
        var y = [Float](repeating: .nan, count: inputs.count)
        inputs.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { f(x, $0) } }
        return y
    }

    /// |y - exact| <= 4 ulp(exact) (observed: under 2), or <= 1e-37 absolute where exp underflows.
    static func check(_ y: [Float], exact: (Double) -> Double, name: String) {
        var worstUlps = 0.0
        for (x, got) in zip(inputs, y) {
            let want = exact(Double(x))
            let err = abs(Double(got) - want)
            if err <= 1e-37 { continue }
            let ulps = err / Double(Float(want).ulp)
            worstUlps = max(worstUlps, ulps)
            if ulps > 4 { Issue.record("\(name)(\(x)) = \(got), exact \(want): \(ulps) ulp") ; return }
        }
        #expect(worstUlps <= 4, "\(name) worst \(worstUlps) ulp")
    }

    /// Block 0: every element through glibc's expf (ATen's scalar path); 32: SLEEF's vector expf.
    @Test(arguments: KernelISA.allCases, [0, 32])
    func sigmoidIsAccurate(isa: KernelISA, block: Int) {
        Self.check(Self.apply { CellKernel.sigmoid($0, into: $1, sigmoidBlock: block, isa: isa) },
                   exact: { 1 / (1 + Foundation.exp(-$0)) }, name: "sigmoid")
    }

    /// Where tanh is (e^2x - 1)/(e^2x + 1) with e^2x - 1 close to 0: every 61st float of
    /// [2^-12, 2^-8], and the inputs that computing e^2x first and then subtracting 1 misrounded
    /// (found by comparing every float of [0, 20) with long double tanhl).
    static let smallTanhInputs: [Float] = {
        var xs: [Float] = [0x1.71373cp-12, 0x1.713742p-12, 0x1.713746p-12, 0x1.71374cp-12, 0x1.713752p-12, 0x1.713758p-12,
                           0x1.4f7478p-11, 0x1.bcee74p-11, 0x1.bcee76p-11, 0x1.e3cf4ap-11, 0x1.e83fbp-10, 0x1.f93eaep-10]
        let low = Float(0x1p-12).bitPattern, high = Float(0x1p-8).bitPattern
        xs += stride(from: low, to: high, by: 61).map { Float(bitPattern: $0) }
        return xs + xs.map { -$0 }
    }()

    /// Correctly rounded: within half an ulp of the exact value everywhere on the sweeps.
    @Test(arguments: KernelISA.allCases)
    func tanhIsCorrectlyRounded(isa: KernelISA) {
        let inputs = Self.inputs + Self.smallTanhInputs
        var y = [Float](repeating: .nan, count: inputs.count)
        inputs.withUnsafeBufferPointer { x in y.withUnsafeMutableBufferPointer { CellKernel.tanh(x, into: $0, isa: isa) } }
        for (x, got) in zip(inputs, y) where !x.isNaN {
            let want = Foundation.tanh(Double(x))
            let ulps = abs(Double(got) - want) / Double(Float(want).ulp)
            if ulps > 0.5 {
                Issue.record("tanh(\(x)) = \(got), exact \(want): \(ulps) ulp")
                return
            }
        }
    }

    static func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }

    /// Tolerance 1e-6 absolute: the states are in [-1, 1] and each step rounds a few times.
    @Test(arguments: KernelISA.allCases, [1, 7, 8, 13, 64, 70])
    func gruCellMatchesReference(isa: KernelISA, hidden: Int) {
        var rng = SeededGenerator(seed: UInt64(hidden))
        let gi = rng.floats(3 * hidden, in: -4...4), gh = rng.floats(3 * hidden, in: -4...4)
        var h = rng.floats(hidden)
        let hPrev = h
        gi.withUnsafeBufferPointer { gi in
            gh.withUnsafeBufferPointer { gh in
                h.withUnsafeMutableBufferPointer { h in
                    CellKernel.gru(gi: gi.baseAddress!, gh: gh.baseAddress!, hPrev: h.baseAddress!, hOut: h.baseAddress!,
                                   hidden: hidden, sigmoidBlock: 16, isa: isa)
                }
            }
        }
        for j in 0..<hidden {
            let r = Self.sigmoid(Double(gi[j]) + Double(gh[j]))
            let z = Self.sigmoid(Double(gi[hidden + j]) + Double(gh[hidden + j]))
            let n = Foundation.tanh(Double(gi[2 * hidden + j]) + Double(gh[2 * hidden + j]) * r)
            let want = (Double(hPrev[j]) - n) * z + n
            #expect(abs(Double(h[j]) - want) <= 1e-6, "j = \(j): \(h[j]) vs \(want)")
        }
    }

    @Test(arguments: KernelISA.allCases, [1, 7, 8, 13, 64, 70])
    func lstmCellMatchesReference(isa: KernelISA, hidden: Int) {
        var rng = SeededGenerator(seed: UInt64(100 + hidden))
        let gi = rng.floats(4 * hidden, in: -4...4), gh = rng.floats(4 * hidden, in: -4...4)
        var c = rng.floats(hidden, in: -3...3)
        let cPrev = c
        var h = [Float](repeating: .nan, count: hidden)
        gi.withUnsafeBufferPointer { gi in
            gh.withUnsafeBufferPointer { gh in
                c.withUnsafeMutableBufferPointer { c in
                    h.withUnsafeMutableBufferPointer { h in
                        CellKernel.lstm(gi: gi.baseAddress!, gh: gh.baseAddress!, c: c.baseAddress!, hOut: h.baseAddress!,
                                        hidden: hidden, sigmoidBlock: 16, isa: isa)
                    }
                }
            }
        }
        for j in 0..<hidden {
            func gate(_ g: Int) -> Double { Double(gi[g * hidden + j]) + Double(gh[g * hidden + j]) }
            let cn = Self.sigmoid(gate(1)) * Double(cPrev[j]) + Self.sigmoid(gate(0)) * Foundation.tanh(gate(2))
            let hn = Self.sigmoid(gate(3)) * Foundation.tanh(cn)
            #expect(abs(Double(c[j]) - cn) <= 1e-6 * max(1, abs(cn)), "c[\(j)]")
            #expect(abs(Double(h[j]) - hn) <= 1e-6, "h[\(j)]")
        }
    }

    /// The AVX2, AVX-512 and arm64 levels compute the same functions (SLEEF's expf, correctly
    /// rounded tanh), so they agree bit for bit; the portable level agrees wherever the row is all
    /// scalar (arm64 computes those rows with vectors too). On one machine only one architecture's
    /// levels run: the other's map to its levels (KernelISA).
    @Test(arguments: [0, 16, 32])
    func levelsAgreeBitForBit(block: Int) {
        let hidden = 77
        var rng = SeededGenerator(seed: UInt64(block + 5))
        let gi = rng.floats(4 * hidden, in: -6...6), gh = rng.floats(4 * hidden, in: -6...6)
        let h0 = rng.floats(hidden), c0 = rng.floats(hidden, in: -3...3)
        func run(_ isa: KernelISA) -> [UInt32] {
            var h = h0, c = c0, hl = [Float](repeating: 0, count: hidden)
            gi.withUnsafeBufferPointer { gi in
                gh.withUnsafeBufferPointer { gh in
                    h.withUnsafeMutableBufferPointer { h in
                        CellKernel.gru(gi: gi.baseAddress!, gh: gh.baseAddress!, hPrev: h.baseAddress!, hOut: h.baseAddress!,
                                       hidden: hidden, sigmoidBlock: block, isa: isa)
                    }
                    c.withUnsafeMutableBufferPointer { c in
                        hl.withUnsafeMutableBufferPointer { hl in
                            CellKernel.lstm(gi: gi.baseAddress!, gh: gh.baseAddress!, c: c.baseAddress!, hOut: hl.baseAddress!,
                                            hidden: hidden, sigmoidBlock: block, isa: isa)
                        }
                    }
                }
            }
            return (h + c + hl).map(\.bitPattern)
        }
        #expect(run(.avx2) == run(.avx512))
        #expect(run(.avx2VNNI) == run(.avx2))
        #expect(run(.neon) == run(.neonDotProd))
        if block == 0 {
            #expect(run(.portable) == run(.avx2))
            #expect(run(.portable) == run(.neon))
        }
    }

    /// Two calls over elements split at a multiple of 32 give the whole-row call's bits: what
    /// lets two threads share a row (the vector part and the scalar tail stay where they were).
    @Test(arguments: KernelISA.allCases, [(77, 32), (77, 64), (200, 96), (64, 32), (40, 32)])
    func splitRowsAgreeBitForBit(isa: KernelISA, shape: (hidden: Int, split: Int)) {
        let hidden = shape.hidden
        var rng = SeededGenerator(seed: UInt64(hidden + shape.split))
        let gi = rng.floats(4 * hidden, in: -6...6), gh = rng.floats(4 * hidden, in: -6...6)
        let h0 = rng.floats(hidden), c0 = rng.floats(hidden, in: -3...3)
        func run(_ ranges: [Range<Int>]) -> [UInt32] {
            var h = h0, c = c0, hl = [Float](repeating: 0, count: hidden)
            gi.withUnsafeBufferPointer { gi in
                gh.withUnsafeBufferPointer { gh in
                    for range in ranges {
                        h.withUnsafeMutableBufferPointer { h in
                            CellKernel.gru(gi: gi.baseAddress!, gh: gh.baseAddress!, hPrev: h.baseAddress!, hOut: h.baseAddress!,
                                           hidden: hidden, elements: range, sigmoidBlock: 32, isa: isa)
                        }
                        c.withUnsafeMutableBufferPointer { c in
                            hl.withUnsafeMutableBufferPointer { hl in
                                CellKernel.lstm(gi: gi.baseAddress!, gh: gh.baseAddress!, c: c.baseAddress!, hOut: hl.baseAddress!,
                                                hidden: hidden, elements: range, sigmoidBlock: 32, isa: isa)
                            }
                        }
                    }
                }
            }
            return (h + c + hl).map(\.bitPattern)
        }
        #expect(run([shape.split..<hidden, 0..<shape.split]) == run([0..<hidden]))
    }
}
