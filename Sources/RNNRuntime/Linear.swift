/// One matrix product `y = x·Wᵀ + b` over a block of rows.
///
/// Every product of every module goes through here, because this is the unit at which
/// PyTorch's dynamic quantization chooses activation scales (one scale per call, from the
/// whole block). Float and int8 weights are two cases of the same seam; the recurrences in the
/// layers never know which one they run.
public struct Linear: Sendable {
    public enum Weights: Sendable {
        /// Row-major (outFeatures, inFeatures) float32 weights.
        case float32([Float])
    }

    public let outFeatures: Int
    public let inFeatures: Int
    public let weights: Weights
    /// Length `outFeatures`, or nil for no bias.
    public let bias: [Float]?

    public init(outFeatures: Int, inFeatures: Int, weights: Weights, bias: [Float]?) {
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.weights = weights
        self.bias = bias
        if let bias { precondition(bias.count == outFeatures, "bias has \(bias.count) values for \(outFeatures) outputs") }
    }

    /// Builds the product of a module parameter: float weights run in float32, int8 weights in
    /// the int8 kernel.
    ///
    /// - Parameters:
    ///   - weight: an (outFeatures, inFeatures) matrix.
    ///   - bias: (outFeatures), or nil.
    /// - Throws: `RNNRuntimeError.int8Unavailable` for int8 weights when this build cannot run them.
    public init(weight: Parameter, bias: Tensor?) throws {
        precondition(weight.shape.count == 2, "a Linear weight is a matrix, got shape \(weight.shape)")
        switch weight {
        case .float(let tensor, _):
            self.init(outFeatures: tensor.shape[0], inFeatures: tensor.shape[1],
                      weights: .float32(tensor.scalars), bias: bias?.scalars)
        case .quantized:
            throw RNNRuntimeError.int8Unavailable(module: "Linear", parameter: "weight")
        }
    }

    /// Computes `y[r, :] = x[r, :]·Wᵀ + b` for `r` in `0..<rows`.
    ///
    /// Each output element is computed by the same sequence of operations whatever `rows` is,
    /// so float results do not depend on how rows are grouped into calls.
    ///
    /// - Parameters:
    ///   - x: (rows, inFeatures), contiguous.
    ///   - rows: number of rows in the block; the quantized case takes one activation scale over all of them.
    ///   - y: (rows, outFeatures), contiguous; overwritten.
    ///   - workspace: scratch owned by the caller so the time loop does not allocate.
    public func apply(
        _ x: UnsafeBufferPointer<Float>, rows: Int, into y: UnsafeMutableBufferPointer<Float>,
        workspace: inout LinearWorkspace
    ) {
        precondition(x.count >= rows * inFeatures && y.count >= rows * outFeatures)
        guard rows > 0 else { return }
        switch weights {
        case .float32(let w):
            w.withUnsafeBufferPointer { w in
                if let bias {
                    bias.withUnsafeBufferPointer { b in
                        FloatKernel.product(x: x.baseAddress!, rows: rows, w: w.baseAddress!, bias: b.baseAddress,
                                            outFeatures: outFeatures, inFeatures: inFeatures, y: y.baseAddress!)
                    }
                } else {
                    FloatKernel.product(x: x.baseAddress!, rows: rows, w: w.baseAddress!, bias: nil,
                                        outFeatures: outFeatures, inFeatures: inFeatures, y: y.baseAddress!)
                }
            }
        }
    }
}

/// Scratch memory for `Linear.apply`, sized once before a time loop and reused.
public struct LinearWorkspace: Sendable {
    public init() {}
}

/// The float32 product `y = x·Wᵀ + b` with W row-major (out, in): dot products over contiguous
/// memory with eight-lane accumulators. Four weight rows at a time are held in L1 while every
/// input row passes by, so each weight is read from memory once per call whatever the number
/// of rows; four accumulators fit the sixteen SSE registers without spilling.
enum FloatKernel {
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
