/// A symmetric or affine int8 weight matrix with per-tensor or per-row (output channel) scales.
///
/// Real value of element (r, c) is `scale[r or 0] * (values[r*cols + c] - zeroPoint[r or 0])`.
/// spec/FORMAT.md, "Quantized tensors", gives the file layout.
public struct QuantizedTensor: Sendable, Hashable {
    public enum Scheme: String, Sendable, Hashable, Codable {
        /// One scale for the whole matrix (PyTorch's dynamic-quantization default for RNNs).
        case perTensor = "per_tensor"
        /// One scale per output row.
        case perChannel = "per_channel"
    }

    public var shape: [Int]
    public var values: [Int8]
    public var scales: [Float]
    public var zeroPoints: [Int32]

    public init(shape: [Int], values: [Int8], scales: [Float], zeroPoints: [Int32]) {
        precondition(shape.count == 2, "quantized tensors are matrices, got shape \(shape)")
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
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
        return Tensor(shape: shape, scalars: out)
    }
}
