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
    /// The weights in the product kernel's layout, packed once here (Sources/RNNRuntime/Kernels).
    private let prepared: Prepared

    private enum Prepared: Sendable {
        case float32(PackedFloatMatrix)
    }

    public init(outFeatures: Int, inFeatures: Int, weights: Weights, bias: [Float]?) {
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.weights = weights
        self.bias = bias
        if let bias { precondition(bias.count == outFeatures, "bias has \(bias.count) values for \(outFeatures) outputs") }
        switch weights {
        case .float32(let w):
            prepared = .float32(PackedFloatMatrix(weights: w, outFeatures: outFeatures, inFeatures: inFeatures, bias: bias))
        }
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
        switch prepared {
        case .float32(let matrix):
            matrix.apply(x, rows: rows, into: y)
        }
    }
}

/// Scratch memory for `Linear.apply`, sized once before a time loop and reused.
public struct LinearWorkspace: Sendable {
    public init() {}
}
