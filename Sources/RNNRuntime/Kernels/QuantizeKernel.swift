import CRNNKernels

/// The vector passes of dynamic activation quantization: the range of a block, then its codes.
package enum QuantizeKernel {
    /// The smallest and largest value of (rows, cols) floats with row stride `stride`; NaNs are
    /// skipped (an all-NaN block gives `(+inf, -inf)`).
    package static func minMax(
        _ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int, stride: Int? = nil, isa: KernelISA = .best
    ) -> (min: Float, max: Float) {
        let ldx = stride ?? cols
        precondition(rows > 0 && cols > 0 && ldx >= cols && x.count >= (rows - 1) * ldx + cols)
        var lo: Float = 0, hi: Float = 0
        crnn_f32_minmax(isa.rawValue, x.baseAddress, rows, cols, ldx, &lo, &hi)
        return (lo, hi)
    }

    /// Writes `xq[r, c] = clamp(roundHalfEven(x[r, c] · inverseScale) + zeroPoint, 0, 255)` (the
    /// product in float32, as FBGEMM computes it) and zeroes each row's padding up to a multiple
    /// of 4 columns.
    ///
    /// - Parameters:
    ///   - x: (rows, cols) floats with row stride `xStride` (default `cols`).
    ///   - inverseScale: `1 / scale` computed in float32.
    ///   - zeroPoint: 0...127.
    ///   - xq: (rows, qStride) bytes; `qStride` defaults to `cols` rounded up to 4.
    /// - Returns: the largest code written.
    @discardableResult
    package static func quantize(
        _ x: UnsafeBufferPointer<Float>, rows: Int, cols: Int, xStride: Int? = nil,
        inverseScale: Float, zeroPoint: Int32,
        into xq: UnsafeMutableBufferPointer<UInt8>, qStride: Int? = nil, isa: KernelISA = .best
    ) -> Int {
        let padded = crnn_s8_padded_k(cols)
        let ldx = xStride ?? cols, ldq = qStride ?? padded
        precondition(rows >= 0 && ldx >= cols && ldq >= padded && (0...127).contains(zeroPoint))
        precondition(rows == 0 || (x.count >= (rows - 1) * ldx + cols && xq.count >= (rows - 1) * ldq + padded))
        guard rows > 0 else { return 0 }
        return Int(crnn_quantize_u8(isa.rawValue, x.baseAddress, rows, cols, ldx, inverseScale, zeroPoint,
                                    xq.baseAddress, ldq))
    }
}
