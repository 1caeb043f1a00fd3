import RNNFormat
/// Int8 weights of a `Linear`, prepared once: values, scales and per-row sums.
///
/// Runs PyTorch's dynamic int8 product (spec/FORMAT.md, "Quantized tensors", runtime numerics):
/// quantize the input block to uint8 with one fresh scale (`ActivationQuantization`), multiply
/// exactly in int32 (`Int8Kernel`), then `y = fma(Float(acc - zp·colsum), xScale·wScale, bias)`.
/// Weight zero points other than 0 (affine int8, which our quantizer never writes but the format
/// allows) add fbgemm's two further integer terms, `- wzp·rowsum(xq) + K·zp·wzp`.
package struct Int8Weights: Sendable {
    package let outFeatures: Int
    package let inFeatures: Int
    /// (outFeatures, inFeatures) row-major.
    let values: [Int8]
    /// One scale, or one per output row.
    let scales: [Float]
    /// One zero point per scale; all 0 for symmetric weights.
    let zeroPoints: [Int32]
    /// `Σ_k values[j, k]` for each output row `j`, for the activation zero-point correction.
    let columnSums: [Int32]

    /// Prepares a quantized (outFeatures, inFeatures) matrix.
    package init(_ tensor: QuantizedTensor) {
        outFeatures = tensor.rows
        inFeatures = tensor.columns
        values = tensor.values
        scales = tensor.scales
        zeroPoints = tensor.zeroPoints
        let k = tensor.columns
        columnSums = (0..<tensor.rows).map { j in
            tensor.values[j * k..<(j + 1) * k].reduce(Int32(0)) { $0 &+ Int32($1) }
        }
    }

    /// `y[r, :] = x[r, :]·Wᵀ + b` through int8, with one activation scale over all `rows`.
    ///
    /// - Parameters:
    ///   - x: (rows, inFeatures).
    ///   - rows: rows in the block.
    ///   - bias: `outFeatures` values or nil (zero).
    ///   - y: (rows, outFeatures); overwritten.
    ///   - scratch: reused buffers, grown when too small.
    func apply(
        _ x: UnsafeBufferPointer<Float>, rows: Int, bias: [Float]?,
        into y: UnsafeMutableBufferPointer<Float>, scratch: inout Int8Scratch
    ) {
        let n = outFeatures
        let k = inFeatures
        precondition(x.count >= rows * k && y.count >= rows * n)
        guard rows > 0, n > 0 else { return }
        let input = UnsafeBufferPointer(rebasing: x[0..<rows * k])
        let activation = ActivationQuantization(of: input)
        scratch.reserve(activations: rows * k, accumulators: rows * n)
        scratch.withBuffers { xq, acc in
            activation.quantize(input, into: xq)
            values.withUnsafeBufferPointer { w in
                Int8Kernel.multiply(
                    xq.baseAddress!, rows: rows, w.baseAddress!, outFeatures: n, inFeatures: k,
                    into: acc.baseAddress!)
            }
            let zp = activation.zeroPoint
            let xScale = activation.scale
            let perRow = scales.count > 1
            let affine = zeroPoints.contains { $0 != 0 }
            scales.withUnsafeBufferPointer { s in
                columnSums.withUnsafeBufferPointer { colsum in
                    for r in 0..<rows {
                        var rowSum: Int32 = 0
                        if affine {
                            for i in r * k..<(r + 1) * k { rowSum &+= Int32(xq[i]) }
                        }
                        for j in 0..<n {
                            let combined = xScale * s[perRow ? j : 0]
                            var corrected = acc[r * n + j] &- zp &* colsum[j]
                            if affine {
                                let wzp = zeroPoints[perRow ? j : 0]
                                corrected = corrected &- wzp &* rowSum &+ Int32(truncatingIfNeeded: k) &* zp &* wzp
                            }
                            let b = bias?[j] ?? 0
                            y[r * n + j] = b.addingProduct(Float(corrected), combined)
                        }
                    }
                }
            }
        }
    }
}

/// Buffers of the int8 product, owned by a `LinearWorkspace` so the time loop does not allocate.
package struct Int8Scratch: Sendable {
    var activations: [UInt8] = []
    var accumulators: [Int32] = []

    package init() {}

    mutating func reserve(activations a: Int, accumulators c: Int) {
        // At least one element each, so the base addresses exist even for empty blocks.
        if activations.count < max(a, 1) { activations = [UInt8](repeating: 0, count: max(a, 1)) }
        if accumulators.count < max(c, 1) { accumulators = [Int32](repeating: 0, count: max(c, 1)) }
    }

    mutating func withBuffers(
        _ body: (UnsafeMutableBufferPointer<UInt8>, UnsafeMutableBufferPointer<Int32>) -> Void
    ) {
        activations.withUnsafeMutableBufferPointer { a in
            accumulators.withUnsafeMutableBufferPointer { c in body(a, c) }
        }
    }
}
