import CRNNKernels

/// A symmetric int8 weight matrix packed once for the u8 × s8 product kernel, with what
/// PyTorch's dynamic-quantization epilogue needs: column sums, per-row scales, float bias.
///
/// Output rows are grouped in panels of 16 and input columns in groups of 4; each group holds
/// the 4 consecutive weights of the panel's 16 rows, so one 32-bit broadcast of 4 activations
/// meets 8 rows in one AVX2 register (vpmaddubsw + vpmaddwd, exact int32 accumulation).
package struct PackedInt8Matrix: Sendable {
    /// Rows of W.
    package let outFeatures: Int
    /// Columns of W.
    package let inFeatures: Int
    /// Row stride the quantized activations need: `inFeatures` rounded up to a multiple of 4.
    package let paddedInFeatures: Int
    private let packed: KernelBuffer<Int8>
    private let columnSums: KernelBuffer<Int32>
    private let rowScales: KernelBuffer<Float>
    /// Empty without a bias. Not an optional: binding an optional class reference retains it,
    /// once per product of a time loop.
    private let bias: KernelBuffer<Float>
    private let hasBias: Bool

    /// Packs row-major `values` (outFeatures, inFeatures) whose real value is `scale · value`.
    ///
    /// - Parameters:
    ///   - scales: one scale for the whole matrix, or one per output row.
    ///   - bias: float32 bias (outFeatures) or nil.
    package init(values: [Int8], outFeatures: Int, inFeatures: Int, scales: [Float], bias: [Float]?) {
        precondition(outFeatures >= 0 && inFeatures >= 0 && values.count == outFeatures * inFeatures,
                     "values hold \(values.count) entries, expected \(outFeatures) x \(inFeatures)")
        precondition(scales.count == 1 || scales.count == outFeatures, "need 1 or \(outFeatures) scales")
        precondition(bias == nil || bias!.count == outFeatures, "bias must have \(outFeatures) values")
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        paddedInFeatures = crnn_s8_padded_k(inFeatures)
        var sums = [Int32](repeating: 0, count: outFeatures)
        packed = KernelBuffer(count: crnn_s8_packed_count(outFeatures, inFeatures)) { dst in
            values.withUnsafeBufferPointer { w in
                sums.withUnsafeMutableBufferPointer { s in
                    crnn_s8_pack(w.baseAddress, outFeatures, inFeatures, inFeatures, dst.baseAddress, s.baseAddress)
                }
            }
        }
        columnSums = KernelBuffer(sums)
        rowScales = KernelBuffer(scales.count == outFeatures ? scales : Array(repeating: scales[0], count: outFeatures))
        self.bias = KernelBuffer(bias ?? [])
        hasBias = bias != nil
    }

    /// Exact int32 accumulators `acc[r, j] = Σ_c xq[r, c]·W[j, c]`.
    ///
    /// - Parameters:
    ///   - xq: (rows, paddedInFeatures) quantized activations, row stride `xStride` (default
    ///     `paddedInFeatures`); padding bytes may hold anything.
    ///   - maxCode: the largest activation code (as returned by ``QuantizeKernel/quantize``);
    ///     codes above 128 avoid the AVX2 path, which would saturate.
    ///   - acc: (rows, outFeatures), row stride `outFeatures`; overwritten.
    package func accumulate(
        _ xq: UnsafeBufferPointer<UInt8>, rows: Int, xStride: Int? = nil, maxCode: Int,
        into acc: UnsafeMutableBufferPointer<Int32>, isa: KernelISA = .best
    ) {
        let ldx = xStride ?? paddedInFeatures
        checkShapes(xq.count, rows: rows, ldx: ldx, outCount: acc.count, ldy: outFeatures)
        guard rows > 0, outFeatures > 0 else { return }
        packed.withUnsafePointer { w in
            crnn_s8_gemm_acc(Self.level(isa, maxCode), xq.baseAddress, rows, ldx, w, outFeatures, inFeatures,
                             acc.baseAddress, outFeatures)
        }
    }

    /// `y[r, j] = fmaf(Float(acc[r, j] - zeroPoint·colsum[j]), scale·wScale[j], bias[j])`, which is
    /// PyTorch's (FBGEMM's) dynamic-quantization output, bit for bit.
    ///
    /// - Parameters:
    ///   - xq: (rows, paddedInFeatures) activations quantized with `scale` and `zeroPoint`.
    ///   - maxCode: the largest activation code; codes above 128 avoid the AVX2 path, which would saturate.
    ///   - y: (rows, outFeatures) with row stride `yStride` (default `outFeatures`); overwritten.
    ///   - outputs, backward: as for `PackedFloatMatrix.apply`.
    ///   - rowKernel: how the AVX-512 level computes one row; tests run both.
    @inline(__always)
    package func apply(
        _ xq: UnsafeBufferPointer<UInt8>, rows: Int, xStride: Int? = nil, scale: Float, zeroPoint: Int32,
        maxCode: Int, into y: UnsafeMutableBufferPointer<Float>, yStride: Int? = nil, outputs: Range<Int>? = nil,
        backward: Bool = false, isa: KernelISA = .best, rowKernel: Int8RowKernel = .machine
    ) {
        let ldx = xStride ?? paddedInFeatures, ldy = yStride ?? outFeatures
        let range = outputs ?? 0..<outFeatures
        checkShapes(xq.count, rows: rows, ldx: ldx, outCount: y.count, ldy: ldy)
        precondition(PackedRows.isSplittable(range, outFeatures: outFeatures), "row range \(range) does not start at a block")
        guard rows > 0, !range.isEmpty else { return }
        let level = Self.level(isa, maxCode)
        let first = range.lowerBound, offset = crnn_s8_packed_offset(first, inFeatures)
        packed.withUnsafePointer { w in
            columnSums.withUnsafePointer { cs in
                rowScales.withUnsafePointer { ws in
                    bias.withUnsafePointer { b in
                        crnn_s8_gemm_f32(level, xq.baseAddress, rows, ldx, w + offset, range.count, inFeatures,
                                         cs + first, zeroPoint, scale, ws + first, hasBias ? b + first : nil,
                                         y.baseAddress! + first, ldy, backward ? 1 : 0, rowKernel.code)
                    }
                }
            }
        }
    }

    /// The column sums `Σ_c W[j, c]` (the zero-point correction of the epilogue).
    package var columnSumValues: [Int32] { columnSums.array }

    @inline(__always)
    private func checkShapes(_ xCount: Int, rows: Int, ldx: Int, outCount: Int, ldy: Int) {
        precondition(rows >= 0 && ldx >= paddedInFeatures && ldy >= outFeatures)
        precondition(rows == 0 || xCount >= (rows - 1) * ldx + paddedInFeatures, "xq is too short")
        precondition(rows == 0 || outCount >= (rows - 1) * ldy + outFeatures, "output is too short")
    }

    /// AVX2's vpmaddubsw is exact only while two u8·s8 products fit int16, i.e. activations
    /// <= 128; the VNNI levels and the portable path are exact for any code.
    @inline(__always)
    private static func level(_ isa: KernelISA, _ maxCode: Int) -> Int32 {
        maxCode <= 128 ? isa.rawValue : crnn_s8_exact_isa(isa.rawValue)
    }
}

/// How the AVX-512 level computes an int8 product of one row: eight panels of 16 rows sharing
/// each broadcast of activations, or one panel at a time (`crnn_s8_row_blocks_by_default`
/// chooses for the machine). The results are the same.
package enum Int8RowKernel: CaseIterable, Sendable {
    case machine, panels, blocks

    var code: Int32 {
        switch self {
        case .machine: Int32(CRNN_S8_ROW_DEFAULT)
        case .panels: Int32(CRNN_S8_ROW_PANELS)
        case .blocks: Int32(CRNN_S8_ROW_BLOCKS)
        }
    }
}
