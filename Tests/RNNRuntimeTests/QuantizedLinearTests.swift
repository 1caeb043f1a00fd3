import Testing
@testable import RNNRuntime
import RNNFormat

@Suite("Int8 Linear against a naive reference of the same rule")
struct QuantizedLinearTests {
    /// The rule of spec "Quantized tensors", written out element by element with no kernel.
    static func reference(x: [Float], rows: Int, weights q: QuantizedTensor, bias: [Float]?) -> [Float] {
        let n = q.rows
        let k = q.columns
        let act = ActivationQuantization(min: x.min() ?? 0, max: x.max() ?? 0)
        let xq = x.map { v -> Int64 in
            let r = (v * (1 / act.scale)).rounded(.toNearestOrEven) + Float(act.zeroPoint)
            return Int64(min(max(r, 0), 255))
        }
        var y = [Float](repeating: 0, count: rows * n)
        for r in 0..<rows {
            for j in 0..<n {
                var acc: Int64 = 0
                let c = q.scales.count == 1 ? 0 : j
                for i in 0..<k {
                    acc += (xq[r * k + i] - Int64(act.zeroPoint)) * (Int64(q.values[j * k + i]) - Int64(q.zeroPoints[c]))
                }
                let s = act.scale * q.scales[c]
                y[r * n + j] = (bias?[j] ?? 0).addingProduct(Float(acc), s)
            }
        }
        return y
    }

    static func run(_ linear: Linear, x: [Float], rows: Int) -> [Float] {
        var workspace = LinearWorkspace()
        var y = [Float](repeating: .nan, count: rows * linear.outFeatures)
        x.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { y in
                linear.apply(x, rows: rows, into: y, workspace: &workspace)
            }
        }
        return y
    }

    @Test("per-tensor and per-channel match the reference exactly",
          arguments: [(1, 3, 1), (4, 12, 17), (9, 16, 40), (1, 33, 65), (3, 7, 128)],
          [QuantizedTensor.Scheme.perTensor, .perChannel])
    func matchesReference(shape: (Int, Int, Int), scheme: QuantizedTensor.Scheme) throws {
        let (rows, n, k) = shape
        var rng = SplitMix64(seed: UInt64(rows * 1000 + n * 10 + k))
        let w = try Tensor(shape: [n, k], scalars: (0..<n * k).map { _ in Float.random(in: -0.4...0.3, using: &rng) })
        let bias = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
        let x = (0..<rows * k).map { _ in Float.random(in: -2...3, using: &rng) }
        let q = Quantizer(scheme: scheme).quantize(w)
        let linear = Linear(outFeatures: n, inFeatures: k, weights: .int8(Int8Weights(q)), bias: bias)
        #expect(Self.run(linear, x: x, rows: rows) == Self.reference(x: x, rows: rows, weights: q, bias: bias))
    }

    @Test("affine weights (non-zero zero points) match the reference exactly",
          arguments: [QuantizedTensor.Scheme.perTensor, .perChannel])
    func affineWeights(scheme: QuantizedTensor.Scheme) throws {
        var rng = SplitMix64(seed: 5)
        let (rows, n, k) = (3, 9, 37)
        let scales = (0..<(scheme == .perTensor ? 1 : n)).map { _ in Float.random(in: 0.001...0.01, using: &rng) }
        let q = try QuantizedTensor(shape: [n, k], values: (0..<n * k).map { _ in Int8.random(in: -128...127, using: &rng) },
                                scales: scales, zeroPoints: scales.map { _ in Int32.random(in: -128...127, using: &rng) })
        let bias = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
        let x = (0..<rows * k).map { _ in Float.random(in: -1...2, using: &rng) }
        let linear = Linear(outFeatures: n, inFeatures: k, weights: .int8(Int8Weights(q)), bias: bias)
        #expect(Self.run(linear, x: x, rows: rows) == Self.reference(x: x, rows: rows, weights: q, bias: bias))
    }

    @Test("no bias equals a zero bias, bit for bit")
    func missingBiasIsZero() throws {
        var rng = SplitMix64(seed: 7)
        let w = try Tensor(shape: [6, 10], scalars: (0..<60).map { _ in Float.random(in: -1...1, using: &rng) })
        let x = (0..<30).map { _ in Float.random(in: -1...1, using: &rng) }
        let weights = Linear.Weights.int8(Int8Weights(Quantizer().quantize(w)))
        let none = Self.run(Linear(outFeatures: 6, inFeatures: 10, weights: weights, bias: nil), x: x, rows: 3)
        let zero = Self.run(Linear(outFeatures: 6, inFeatures: 10, weights: weights, bias: [Float](repeating: 0, count: 6)), x: x, rows: 3)
        #expect(none == zero)
    }

    @Test("int8 result is close to the float product (tolerance: 2% of output range)")
    func closeToFloat() throws {
        var rng = SplitMix64(seed: 11)
        let (rows, n, k) = (5, 24, 48)
        let wv = (0..<n * k).map { _ in Float.random(in: -0.5...0.5, using: &rng) }
        let x = (0..<rows * k).map { _ in Float.random(in: -1...1, using: &rng) }
        let exact = Self.run(Linear(outFeatures: n, inFeatures: k, weights: .float32(wv), bias: nil), x: x, rows: rows)
        let q = Quantizer().quantize(try Tensor(shape: [n, k], scalars: wv))
        let int8 = Self.run(Linear(outFeatures: n, inFeatures: k, weights: .int8(Int8Weights(q)), bias: nil), x: x, rows: rows)
        let range = exact.map(\.magnitude).max() ?? 1
        let worst = zip(exact, int8).map { ($0 - $1).magnitude }.max() ?? 0
        #expect(worst <= 0.02 * range, "max abs error \(worst) vs output range \(range)")
    }

    @Test("constant, zero, empty and non-finite inputs do not trap")
    func degenerateInputs() throws {
        let q = Quantizer().quantize(try Tensor(shape: [2, 3], scalars: [1, -1, 0.5, 0, 0.25, -0.75]))
        let linear = Linear(outFeatures: 2, inFeatures: 3, weights: .int8(Int8Weights(q)), bias: [0.5, -0.5])
        #expect(Self.run(linear, x: [0, 0, 0], rows: 1) == [0.5, -0.5])
        #expect(Self.run(linear, x: [], rows: 0) == [])
        _ = Self.run(linear, x: [.nan, .infinity, -.infinity], rows: 1)
        _ = Self.run(linear, x: [1e-30, 1e-30, 2e-30], rows: 1)
    }
}

@Suite("Activation quantization parameters")
struct QuantizedActivationTests {
    @Test("zero point and scale follow ChooseQuantizationParams(reduce_range)")
    func parameterRules() {
        // All-positive input: zero point at qmin; all-negative: at qmax.
        #expect(ActivationQuantization(min: 0.5, max: 2).zeroPoint == 0)
        #expect(ActivationQuantization(min: -3, max: -1).zeroPoint == 127)
        // Scale is (max - min) / 127 computed in double, then rounded to float.
        let p = ActivationQuantization(min: -1, max: 3)
        #expect(p.scale == Float(4.0 / 127.0))
        // All zero: the 0.1 fallback.
        #expect(ActivationQuantization(min: 0, max: 0).scale == Float(0.1))
        // Tiny ranges are widened to the 6.1e-5 minimum scale.
        #expect(ActivationQuantization(min: 0, max: 1e-6).scale == Float(Double(Float(6.1e-5))))
    }

    @Test("ties round half to even before the zero point is added; results clamp to 0...255")
    func tiesAndClamping() {
        // scale 1 and zero point 1: 2.5 -> 2 -> 3 (rounding after adding 1 would give 4).
        let p = ActivationQuantization(scale: 1, zeroPoint: 1)
        let x: [Float] = [0.5, 1.5, 2.5, -0.5, -1.5, 126.5, 300, -7]
        var q = [UInt8](repeating: 9, count: x.count)
        x.withUnsafeBufferPointer { xb in q.withUnsafeMutableBufferPointer { p.quantize(xb, into: $0) } }
        #expect(q == [1, 3, 3, 1, 0, 127, 255, 0])
    }

    @Test("quantized activations round-trip within half a step (tolerance: 0.501 scale)")
    func roundTrip() {
        var rng = SplitMix64(seed: 3)
        for _ in 0..<50 {
            let lo = Float.random(in: -5...1, using: &rng)
            let hi = lo + Float.random(in: 0.01...6, using: &rng)
            let x = (0..<64).map { _ in Float.random(in: lo...hi, using: &rng) } + [lo, hi]
            var q = [UInt8](repeating: 0, count: x.count)
            let p = x.withUnsafeBufferPointer { ActivationQuantization(of: $0) }
            x.withUnsafeBufferPointer { xb in q.withUnsafeMutableBufferPointer { p.quantize(xb, into: $0) } }
            for (v, qv) in zip(x, q) {
                let back = Float(Int32(qv) - p.zeroPoint) * p.scale
                #expect((back - v).magnitude <= 0.501 * p.scale, "\(v) -> \(qv) (range \(lo)...\(hi))")
            }
            #expect(q.allSatisfy { $0 <= 128 }, "reduce_range keeps activations near 0...127")
        }
    }
}
