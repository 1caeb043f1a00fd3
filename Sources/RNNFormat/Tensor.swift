/// A dense row-major float32 tensor: a shape and contiguous storage.
///
/// This is the value type files, checkpoints and the runtime exchange. It is a plain value
/// (copy-on-write through `Array`), `Sendable`, and carries no device or stride state.
public struct Tensor: Sendable, Hashable {
    public private(set) var shape: [Int]
    public var scalars: [Float]

    /// Wraps `scalars` with `shape`. The product of `shape` must equal `scalars.count`.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == scalars.count,
                     "shape \(shape) holds \(shape.reduce(1, *)) elements, storage has \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public var rank: Int { shape.count }
    public var count: Int { scalars.count }

    /// The same storage under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }
}

/// How a source stored a tensor's elements. Computation is always float32.
public enum ElementType: String, Sendable, Hashable, CaseIterable, Codable {
    case float16
    case bfloat16
    case float32
    case float64
    case int8

    public var byteWidth: Int {
        switch self {
        case .int8: 1
        case .float16, .bfloat16: 2
        case .float32: 4
        case .float64: 8
        }
    }
}
