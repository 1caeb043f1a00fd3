import RNNRuntime
import RNNFormat
/// How far one tensor is from another of the same shape: the figures used to prove a
/// conversion numerically (ours against PyTorch's output, int8 against float).
public struct TensorDifference: Sendable, Hashable {
    /// Largest |a - b| over all elements (NaN when either side holds NaN there).
    public var maxAbs: Float
    /// Mean of |a - b|, accumulated in Double.
    public var meanAbs: Double
    /// Flat index of the largest difference.
    public var argMax: Int
    public var count: Int

    /// Compares `a` with `b` element by element.
    ///
    /// - Throws: `RNNRuntimeError.shapeMismatch` when the shapes differ.
    public init(_ a: Tensor, _ b: Tensor) throws {
        guard a.shape == b.shape else {
            throw RNNRuntimeError.shapeMismatch(module: "compare", argument: "second tensor",
                                                expected: "(\(a.shape.map(String.init).joined(separator: ", ")))", actual: b.shape)
        }
        var maxAbs: Float = 0
        var argMax = 0
        var sum: Double = 0
        for i in 0..<a.count {
            let d = abs(a.scalars[i] - b.scalars[i])
            if d > maxAbs || d.isNaN && !maxAbs.isNaN {
                maxAbs = d
                argMax = i
            }
            sum += Double(d)
        }
        self.maxAbs = maxAbs
        self.meanAbs = a.count == 0 ? 0 : sum / Double(a.count)
        self.argMax = argMax
        self.count = a.count
    }
}
