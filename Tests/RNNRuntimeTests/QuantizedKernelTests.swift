import Testing
@testable import RNNRuntime
import RNNFormat

@Suite("Int8 kernel against a naive Int64 reference")
struct QuantizedKernelTests {
    /// (rows, outFeatures, inFeatures): awkward sizes around the 4-row block and 16-wide chunks.
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (1, 1, 17), (3, 1, 31), (1, 5, 1), (2, 7, 15), (4, 4, 16), (5, 9, 33),
        (1, 13, 100), (7, 3, 127), (2, 21, 259), (13, 6, 8), (1, 96, 64),
    ]

    @Test("u8 x s8 products equal exact Int64 sums", arguments: shapes.indices)
    func matchesNaiveReference(index: Int) {
        let (rows, n, k) = Self.shapes[index]
        var rng = SplitMix64(seed: UInt64(index + 1))
        // Full u8 and s8 ranges, including the extremes, to exercise every product.
        let a = (0..<rows * k).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var b = (0..<n * k).map { _ in Int8.random(in: -128...127, using: &rng) }
        b[0] = -128
        var acc = [Int32](repeating: -1, count: rows * n)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                acc.withUnsafeMutableBufferPointer { acc in
                    Int8Kernel.multiply(a.baseAddress!, rows: rows, b.baseAddress!, outFeatures: n,
                                        inFeatures: k, into: acc.baseAddress!)
                }
            }
        }
        for r in 0..<rows {
            for j in 0..<n {
                var exact: Int64 = 0
                for i in 0..<k { exact += Int64(a[r * k + i]) * Int64(b[j * k + i]) }
                #expect(Int64(acc[r * n + j]) == exact, "row \(r) col \(j) of \((rows, n, k))")
            }
        }
    }

    @Test("extreme operands over a long row stay exact")
    func extremesStayExact() {
        let k = 4099
        let a = [UInt8](repeating: 255, count: k)
        let b = [Int8](repeating: -128, count: 5 * k)
        var acc = [Int32](repeating: 0, count: 5)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                acc.withUnsafeMutableBufferPointer { acc in
                    Int8Kernel.multiply(a.baseAddress!, rows: 1, b.baseAddress!, outFeatures: 5,
                                        inFeatures: k, into: acc.baseAddress!)
                }
            }
        }
        #expect(acc == [Int32](repeating: Int32(-255 * 128 * k), count: 5))
    }
}
