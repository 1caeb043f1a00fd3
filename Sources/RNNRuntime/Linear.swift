import RNNFormat
import CRNNKernels

/// One matrix product `y = x·Wᵀ + b` over a block of rows.
///
/// Every product of every module goes through here, because this is the unit at which
/// PyTorch's dynamic quantization chooses activation scales (one scale per call, from the
/// whole block). Float and int8 weights are two cases of the same seam; the recurrences in the
/// layers never know which one they run.
package struct Linear: Sendable {
    package enum Weights: Sendable {
        /// Row-major (outFeatures, inFeatures) float32 weights.
        case float32([Float])
        /// Int8 weights run through PyTorch's dynamic int8 product (Quantized/Int8Weights.swift).
        case int8(Int8Weights)
    }

    package let outFeatures: Int
    package let inFeatures: Int
    package let weights: Weights
    /// Length `outFeatures`, or nil for no bias.
    package let bias: [Float]?
    /// The weights in the product kernel's layout, packed once here (Sources/RNNRuntime/Kernels).
    /// A class reference rather than an enum of the packed structs: matching an enum case
    /// copies its payload, a retain per kernel buffer on every product of a time loop.
    private let prepared: any PreparedProduct
    /// Whether the product runs the int8 kernel (about four times the float kernel's speed).
    let isInt8: Bool
    /// Whether a product of one row that runs at every step should alternate the order it
    /// visits the rows in (`apply`'s `backward`): when the weights take more than half the L2,
    /// a backward pass first reads what the forward one read last, which is still cached
    /// (whole sequences of such layers 2-27% faster, BENCHMARKS.md). Smaller weights stay in
    /// L2 either way, and backward passes made them 1-2% slower.
    let alternatesOrder: Bool
    /// Whether `apply` takes `backward` and output ranges: every packed layout does, the
    /// reference path for affine int8 weights does not.
    let reversible: Bool
    /// The bytes of the weights the product reads: what decides whether alternating pays.
    let weightBytes: Int

    package init(outFeatures: Int, inFeatures: Int, weights: Weights, bias: [Float]?) {
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.weights = weights
        self.bias = bias
        if let bias { precondition(bias.count == outFeatures, "bias has \(bias.count) values for \(outFeatures) outputs") }
        if case .float32 = weights { isInt8 = false } else { isInt8 = true }
        switch weights {
        case .float32(let w):
            prepared = PreparedFloat(PackedFloatMatrix(weights: w, outFeatures: outFeatures, inFeatures: inFeatures, bias: bias))
        case .int8(let w) where w.zeroPoints.allSatisfy({ $0 == 0 }):
            prepared = PreparedInt8(PackedInt8Matrix(values: w.values, outFeatures: outFeatures, inFeatures: inFeatures,
                                                     scales: w.scales, bias: bias))
        case .int8(let w):
            prepared = PreparedAffineInt8(w, bias: bias)
        }
        reversible = prepared.splits
        weightBytes = outFeatures * inFeatures * (isInt8 ? 1 : 4)
        alternatesOrder = reversible && Linear.alternationPays(bytes: weightBytes)
    }

    /// Whether products that read `bytes` of weights at every step should alternate their order
    /// from step to step: when they take more than half the L2 (`alternatesOrder`).
    static func alternationPays(bytes: Int) -> Bool {
        2 * bytes > Int(crnn_l2_cache_bytes())
    }

    /// Builds the product of a module parameter: float weights run in float32, int8 weights in
    /// the int8 kernel.
    ///
    /// - Parameters:
    ///   - weight: an (outFeatures, inFeatures) matrix.
    ///   - bias: (outFeatures), or nil.
    /// - Throws: nothing today: every element type the format allows runs (int8 since the int8
    ///   kernel landed); the signature keeps room for a build without one.
    package init(weight: Parameter, bias: Tensor?) throws {
        precondition(weight.shape.count == 2, "a Linear weight is a matrix, got shape \(weight.shape)")
        switch weight {
        case .float(let tensor, _):
            self.init(outFeatures: tensor.shape[0], inFeatures: tensor.shape[1],
                      weights: .float32(tensor.scalars), bias: bias?.scalars)
        case .quantized(let q):
            self.init(outFeatures: q.rows, inFeatures: q.columns, weights: .int8(Int8Weights(q)), bias: bias?.scalars)
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
    package func apply(
        _ x: UnsafeBufferPointer<Float>, rows: Int, into y: UnsafeMutableBufferPointer<Float>,
        workspace: inout LinearWorkspace
    ) {
        apply(x, rows: rows, into: y, outputs: nil, workspace: &workspace)
    }

    /// `apply` for the output features in `outputs` only (nil: all), the other columns of y
    /// untouched; each computed feature gets exactly the whole product's value (int8: the
    /// activations are quantized from the whole block as always). `outputs` must be a part of
    /// a split that `canSplit(at:)` allows. `backward`: a one-row product visits its blocks of
    /// rows last to first (`PackedFloatMatrix.apply`); the values do not depend on it.
    func apply(
        _ x: UnsafeBufferPointer<Float>, rows: Int, into y: UnsafeMutableBufferPointer<Float>,
        outputs: Range<Int>?, backward: Bool = false, workspace: inout LinearWorkspace
    ) {
        precondition(x.count >= rows * inFeatures && y.count >= rows * outFeatures)
        guard rows > 0 else { return }
        prepared.apply(x, rows: rows, into: y, outputs: outputs, backward: backward, scratch: &workspace.int8)
    }


    /// Whether two products over `0..<row` and `row..<outFeatures` may replace the whole one:
    /// the packed layouts split at multiples of `PackedRows.block` (the reference
    /// path for affine int8 weights does not split).
    func canSplit(at row: Int) -> Bool {
        reversible && row > 0 && row < outFeatures && PackedRows.isSplittable(0..<row, outFeatures: outFeatures)
    }
}

extension Linear {
    /// Grows `workspace` to what `apply` needs for blocks of up to `rows` rows, so that calls
    /// in a time loop never allocate.
    func reserve(rows: Int, in workspace: inout LinearWorkspace) {
        prepared.reserve(rows: rows, in: &workspace.int8)
    }

    /// PyTorch's dynamic int8 product: one activation scale from the block's range
    /// (`ActivationQuantization`), quantization to u8, then the packed kernel with the fused
    /// `fmaf` epilogue. Bit-identical to `Int8Weights.apply` for symmetric weights.
    @inline(__always)
    static func applyInt8(
        _ matrix: PackedInt8Matrix, _ x: UnsafeBufferPointer<Float>, rows: Int,
        into y: UnsafeMutableBufferPointer<Float>, outputs: Range<Int>? = nil, backward: Bool = false,
        scratch: inout Int8Scratch
    ) {
        let k = matrix.inFeatures, padded = matrix.paddedInFeatures
        guard k > 0 else {
            // No columns: every accumulator is 0 and y is the bias.
            matrix.apply(UnsafeBufferPointer(start: nil, count: 0), rows: rows, scale: 1, zeroPoint: 0, maxCode: 0, into: y,
                         outputs: outputs)
            return
        }
        let range = QuantizeKernel.minMax(x, rows: rows, cols: k)
        let activation = range.min <= range.max ? ActivationQuantization(min: range.min, max: range.max)
            : ActivationQuantization(min: 0, max: 0)
        scratch.reserve(activations: rows * padded, accumulators: 0)
        scratch.withBuffers { xq, _ in
            let top = QuantizeKernel.quantize(x, rows: rows, cols: k, inverseScale: 1 / activation.scale,
                                              zeroPoint: activation.zeroPoint, into: xq)
            matrix.apply(UnsafeBufferPointer(xq), rows: rows, scale: activation.scale, zeroPoint: activation.zeroPoint,
                         maxCode: top, into: y, outputs: outputs, backward: backward)
        }
    }
}

/// One way of computing a `Linear`'s product from its prepared weights.
private protocol PreparedProduct: AnyObject, Sendable {
    /// `Linear.apply` after its checks; `x` and `y` hold at least `rows` rows, `rows > 0`.
    func apply(_ x: UnsafeBufferPointer<Float>, rows: Int, into y: UnsafeMutableBufferPointer<Float>, outputs: Range<Int>?,
               backward: Bool, scratch: inout Int8Scratch)
    /// Whether `apply` takes output ranges.
    var splits: Bool { get }
    /// Grows `scratch` to what `apply` needs for blocks of up to `rows` rows.
    func reserve(rows: Int, in scratch: inout Int8Scratch)
}

/// Float32 weights: the packed float kernel, bias fused.
private final class PreparedFloat: PreparedProduct {
    let matrix: PackedFloatMatrix
    init(_ matrix: PackedFloatMatrix) { self.matrix = matrix }

    func apply(_ x: UnsafeBufferPointer<Float>, rows: Int, into y: UnsafeMutableBufferPointer<Float>, outputs: Range<Int>?,
               backward: Bool, scratch: inout Int8Scratch) {
        matrix.apply(x, rows: rows, into: y, outputs: outputs, backward: backward)
    }

    var splits: Bool { true }

    func reserve(rows: Int, in scratch: inout Int8Scratch) {}
}

/// Symmetric int8 weights (PyTorch's and our quantizer's): the u8 × s8 kernel.
private final class PreparedInt8: PreparedProduct {
    let matrix: PackedInt8Matrix
    init(_ matrix: PackedInt8Matrix) { self.matrix = matrix }

    func apply(_ x: UnsafeBufferPointer<Float>, rows: Int, into y: UnsafeMutableBufferPointer<Float>, outputs: Range<Int>?,
               backward: Bool, scratch: inout Int8Scratch) {
        Linear.applyInt8(matrix, x, rows: rows, into: y, outputs: outputs, backward: backward, scratch: &scratch)
    }

    var splits: Bool { true }

    func reserve(rows: Int, in scratch: inout Int8Scratch) {
        scratch.reserve(activations: rows * matrix.paddedInFeatures, accumulators: 0)
    }
}

/// Weights with non-zero zero points, which the format allows but no quantizer writes: the
/// reference implementation with fbgemm's extra terms.
private final class PreparedAffineInt8: PreparedProduct {
    let weights: Int8Weights
    let bias: [Float]?
    init(_ weights: Int8Weights, bias: [Float]?) {
        self.weights = weights
        self.bias = bias
    }

    func apply(_ x: UnsafeBufferPointer<Float>, rows: Int, into y: UnsafeMutableBufferPointer<Float>, outputs: Range<Int>?,
               backward: Bool, scratch: inout Int8Scratch) {
        precondition(outputs == nil, "the affine int8 product computes every output")
        weights.apply(x, rows: rows, bias: bias, into: y, scratch: &scratch)
    }

    var splits: Bool { false }

    func reserve(rows: Int, in scratch: inout Int8Scratch) {
        scratch.reserve(activations: rows * weights.inFeatures, accumulators: rows * weights.outFeatures)
    }
}

/// Scratch memory for `Linear.apply`, sized once before a time loop and reused.
package struct LinearWorkspace: Sendable {
    var int8 = Int8Scratch()
    package init() {}
}
