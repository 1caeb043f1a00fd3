import RNNRuntime
import Testing
import RNNFormat

/// The float product against a naive double-precision reference on shapes that exercise every
/// block and tail of the kernel.
@Suite("Linear kernel")
struct LinearKernelTests {
    struct Shape: Sendable, CustomTestStringConvertible {
        var rows: Int, outFeatures: Int, inFeatures: Int, bias: Bool
        var testDescription: String { "\(rows)x\(inFeatures)->\(outFeatures)\(bias ? "+b" : "")" }
    }

    static let shapes: [Shape] = [
        Shape(rows: 1, outFeatures: 1, inFeatures: 1, bias: true),
        Shape(rows: 1, outFeatures: 21, inFeatures: 7, bias: true),
        Shape(rows: 2, outFeatures: 4, inFeatures: 8, bias: false),
        Shape(rows: 3, outFeatures: 5, inFeatures: 9, bias: true),
        Shape(rows: 5, outFeatures: 48, inFeatures: 16, bias: true),
        Shape(rows: 7, outFeatures: 30, inFeatures: 37, bias: false),
        Shape(rows: 12, outFeatures: 64, inFeatures: 64, bias: true),
    ]

    static func random(_ count: Int, _ generator: inout SplitMix64) -> [Float] {
        (0..<count).map { _ in Float.random(in: -1...1, using: &generator) }
    }

    @Test(arguments: shapes)
    func matchesNaiveReference(shape: Shape) {
        var generator = SplitMix64(seed: UInt64(shape.rows * 1000 + shape.inFeatures))
        let w = Self.random(shape.outFeatures * shape.inFeatures, &generator)
        let b = shape.bias ? Self.random(shape.outFeatures, &generator) : nil
        let x = Self.random(shape.rows * shape.inFeatures, &generator)
        let linear = Linear(outFeatures: shape.outFeatures, inFeatures: shape.inFeatures, weights: .float32(w), bias: b)
        var y = [Float](repeating: .nan, count: shape.rows * shape.outFeatures)
        var workspace = LinearWorkspace()
        x.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { y in
                linear.apply(x, rows: shape.rows, into: y, workspace: &workspace)
            }
        }
        var worst: Double = 0
        for r in 0..<shape.rows {
            for o in 0..<shape.outFeatures {
                var reference = Double(b?[o] ?? 0)
                for k in 0..<shape.inFeatures {
                    reference += Double(x[r * shape.inFeatures + k]) * Double(w[o * shape.inFeatures + k])
                }
                worst = max(worst, abs(reference - Double(y[r * shape.outFeatures + o])))
            }
        }
        // float32 accumulation of at most 64 products of magnitude <= 1
        #expect(worst <= 1e-5, "max abs diff \(worst)")
    }

    /// Each row's result is the same whether it is computed alone or in a block: streaming
    /// in chunks relies on it.
    @Test(arguments: shapes)
    func rowsDoNotDependOnGrouping(shape: Shape) {
        var generator = SplitMix64(seed: 99)
        let w = Self.random(shape.outFeatures * shape.inFeatures, &generator)
        let b = shape.bias ? Self.random(shape.outFeatures, &generator) : nil
        let x = Self.random(shape.rows * shape.inFeatures, &generator)
        let linear = Linear(outFeatures: shape.outFeatures, inFeatures: shape.inFeatures, weights: .float32(w), bias: b)
        var workspace = LinearWorkspace()
        var together = [Float](repeating: 0, count: shape.rows * shape.outFeatures)
        var alone = together
        x.withUnsafeBufferPointer { x in
            together.withUnsafeMutableBufferPointer { linear.apply(x, rows: shape.rows, into: $0, workspace: &workspace) }
            alone.withUnsafeMutableBufferPointer { y in
                for r in 0..<shape.rows {
                    linear.apply(UnsafeBufferPointer(rebasing: x[(r * shape.inFeatures)...]), rows: 1,
                                 into: UnsafeMutableBufferPointer(rebasing: y[(r * shape.outFeatures)...]), workspace: &workspace)
                }
            }
        }
        #expect(together == alone)
    }
}
