import CRNNKernels

/// A float32 weight matrix (and its bias) packed once into the layout of the product kernel.
///
/// Output rows are grouped in panels of 16 and panels in groups of 8; within a group the 128
/// weights of each input column are contiguous (CRNNKernels.h), so the one-row product of the
/// time loop reads each group as one sequential stream, and products of many rows (T·B for a
/// layer's input projection) still read every weight once per block of rows.
package struct PackedFloatMatrix: Sendable {
    /// Rows of W: the length of each output row.
    package let outFeatures: Int
    /// Columns of W: the length of each input row.
    package let inFeatures: Int
    private let packed: KernelBuffer<Float>
    /// Empty without a bias. Not an optional: binding an optional class reference retains it,
    /// once per product of a time loop.
    private let bias: KernelBuffer<Float>
    private let hasBias: Bool

    /// Packs row-major `weights` (outFeatures, inFeatures) and an optional bias (outFeatures).
    package init(weights: [Float], outFeatures: Int, inFeatures: Int, bias: [Float]?) {
        precondition(outFeatures >= 0 && inFeatures >= 0 && weights.count == outFeatures * inFeatures,
                     "weights hold \(weights.count) values, expected \(outFeatures) x \(inFeatures)")
        precondition(bias == nil || bias!.count == outFeatures, "bias must have \(outFeatures) values")
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        packed = KernelBuffer(count: crnn_f32_packed_count(outFeatures, inFeatures)) { dst in
            weights.withUnsafeBufferPointer { w in
                crnn_f32_pack(w.baseAddress, outFeatures, inFeatures, inFeatures, dst.baseAddress)
            }
        }
        self.bias = KernelBuffer(bias ?? [])
        hasBias = bias != nil
    }

    /// Computes `y[r, :] = x[r, :]·Wᵀ + b` for `r` in `0..<rows`.
    ///
    /// - Parameters:
    ///   - x: (rows, inFeatures) with row stride `xStride` (default `inFeatures`).
    ///   - rows: number of rows.
    ///   - y: (rows, outFeatures) with row stride `yStride` (default `outFeatures`); overwritten.
    ///   - outputs: compute only these output features (the other columns of y are left alone);
    ///     `PackedRows.isSplittable` says which ranges are allowed. Each is computed as in the
    ///     whole product.
    ///   - backward: for one row, visit the blocks of `PackedRows.block` rows last to first
    ///     (`PackedRows`); the values are the same in either order.
    ///   - isa: instruction-set level (default: the best available).
    @inline(__always)
    package func apply(
        _ x: UnsafeBufferPointer<Float>, rows: Int, xStride: Int? = nil,
        into y: UnsafeMutableBufferPointer<Float>, yStride: Int? = nil, outputs: Range<Int>? = nil,
        backward: Bool = false, isa: KernelISA = .best
    ) {
        let ldx = xStride ?? inFeatures, ldy = yStride ?? outFeatures
        let range = outputs ?? 0..<outFeatures
        precondition(rows >= 0 && ldx >= inFeatures && ldy >= outFeatures)
        precondition(rows == 0 || x.count >= (rows - 1) * ldx + inFeatures, "x is too short")
        precondition(rows == 0 || y.count >= (rows - 1) * ldy + outFeatures, "y is too short")
        precondition(PackedRows.isSplittable(range, outFeatures: outFeatures), "row range \(range) does not start at a block")
        guard rows > 0, !range.isEmpty else { return }
        let first = range.lowerBound, offset = crnn_f32_packed_offset(first, inFeatures)
        packed.withUnsafePointer { w in
            bias.withUnsafePointer { b in
                crnn_f32_gemm(isa.rawValue, x.baseAddress, rows, ldx, w + offset, range.count, inFeatures,
                              hasBias ? b + first : nil, y.baseAddress! + first, ldy, backward ? 1 : 0)
            }
        }
    }
}
