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
        /// Int8 weights run through PyTorch's dynamic int8 product (Quantized/Int8Weights.swift).
        case int8(Int8Weights)
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
    }

    /// Computes `y[r, :] = x[r, :]·Wᵀ + b` for `r` in `0..<rows`.
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
        switch weights {
        case .float32(let w):
            w.withUnsafeBufferPointer { w in
                for r in 0..<rows {
                    for o in 0..<outFeatures {
                        var acc: Float = bias?[o] ?? 0
                        for i in 0..<inFeatures {
                            acc += x[r * inFeatures + i] * w[o * inFeatures + i]
                        }
                        y[r * outFeatures + o] = acc
                    }
                }
            }
        case .int8(let w):
            w.apply(x, rows: rows, bias: bias, into: y, scratch: &workspace.int8)
        }
    }
}

/// Scratch memory for `Linear.apply`, sized once before a time loop and reused.
public struct LinearWorkspace: Sendable {
    var int8 = Int8Scratch()
    public init() {}
}
