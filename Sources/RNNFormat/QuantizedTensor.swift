/// A symmetric or affine int8 weight matrix with per-tensor or per-row (output channel) scales.
///
/// Real value of element (r, c) is `scale[r or 0] * (values[r*cols + c] - zeroPoint[r or 0])`.
/// spec/FORMAT.md, "Quantized tensors", gives the file layout.
public struct QuantizedTensor: Sendable, Hashable {
    /// How many scales a matrix has.
    public enum Scheme: String, Sendable, Hashable, Codable {
        /// One scale for the whole matrix (PyTorch's dynamic-quantization default for RNNs).
        case perTensor = "per_tensor"
        /// One scale per output row.
        case perChannel = "per_channel"
    }

    /// (rows, columns).
    public let shape: [Int]
    /// Row-major int8 values, rows x columns of them.
    public let values: [Int8]
    /// One scale (per tensor) or one per row.
    public let scales: [Float]
    /// As many zero points as scales.
    public let zeroPoints: [Int32]

    /// - Throws: `RNNFormatError(.shapeMismatch)` unless `shape` is (rows, columns) with
    ///   rows x columns values, and there are 1 or `rows` scales and as many zero points.
    public init(shape: [Int], values: [Int8], scales: [Float], zeroPoints: [Int32]) throws {
        guard shape.count == 2, let count = Tensor.elementCount(shape), count == values.count,
              scales.count == 1 || scales.count == shape[0], zeroPoints.count == scales.count
        else {
            throw RNNFormatError(.shapeMismatch, file: "QuantizedTensor",
                                 "expected a matrix of rows x columns values with 1 or rows scales and as many zero points, found shape \(shape), \(values.count) values, \(scales.count) scales, \(zeroPoints.count) zero points")
        }
        self.init(shape: shape, trusted: values, scales: scales, zeroPoints: zeroPoints)
    }

    /// For the package's own code, which has checked the parts; checked all the same.
    package init(shape: [Int], trusted values: [Int8], scales: [Float], zeroPoints: [Int32]) {
        precondition(shape.count == 2, "quantized tensors are matrices, got shape \(shape)")
        precondition(Tensor.elementCount(shape) == values.count, "shape \(shape) does not match \(values.count) values")
        precondition(scales.count == 1 || scales.count == shape[0], "need 1 or \(shape[0]) scales, got \(scales.count)")
        precondition(zeroPoints.count == scales.count, "zero points and scales differ in count")
        self.shape = shape
        self.values = values
        self.scales = scales
        self.zeroPoints = zeroPoints
    }

    public var scheme: Scheme { scales.count == 1 ? .perTensor : .perChannel }
    public var rows: Int { shape[0] }
    public var columns: Int { shape[1] }

    /// The float values this tensor stands for.
    public func dequantized() -> Tensor {
        let cols = columns
        var out = [Float](repeating: 0, count: values.count)
        for r in 0..<rows {
            let s = scales.count == 1 ? scales[0] : scales[r]
            let z = zeroPoints.count == 1 ? zeroPoints[0] : zeroPoints[r]
            for c in 0..<cols {
                out[r * cols + c] = s * Float(Int32(values[r * cols + c]) - z)
            }
        }
        return Tensor(shape: shape, trusted: out)
    }
}
