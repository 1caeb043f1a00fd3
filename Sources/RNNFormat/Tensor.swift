/// A dense row-major float32 tensor: a shape and contiguous storage.
///
/// This is the value type files, checkpoints and the runtime exchange. It is a plain value
/// (copy-on-write through `Array`), `Sendable`, and carries no device or stride state. Its one
/// invariant, that the storage holds exactly the elements the shape declares, holds for every
/// value: the initializers check it and the storage cannot be replaced from outside, so no
/// kernel handed a tensor can read past its storage.
public struct Tensor: Sendable, Hashable {
    /// The size of each dimension; empty for a scalar.
    public let shape: [Int]
    /// The elements in row-major order, `shape`'s product of them.
    public private(set) var scalars: [Float]

    /// Wraps `scalars` with `shape`.
    ///
    /// - Throws: `RNNFormatError(.shapeMismatch)` when a dimension is negative or the shape's
    ///   element count differs from `scalars.count`.
    public init(shape: [Int], scalars: [Float]) throws {
        guard let count = Self.elementCount(shape), count == scalars.count else {
            throw RNNFormatError(.shapeMismatch, file: "Tensor",
                                 "shape \(shape) holds \(Self.elementCount(shape).map(String.init) ?? "no valid count of") elements, found \(scalars.count) scalars")
        }
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of zeros.
    ///
    /// - Throws: `RNNFormatError(.shapeMismatch)` for a negative dimension or a shape too large
    ///   to count.
    public init(zeros shape: [Int]) throws {
        guard let count = Self.elementCount(shape) else {
            throw RNNFormatError(.shapeMismatch, file: "Tensor", "shape \(shape) has a negative dimension or too many elements")
        }
        self.init(shape: shape, trusted: [Float](repeating: 0, count: count))
    }

    /// For the package's own code, whose shapes and storage agree by construction; checked all
    /// the same (a disagreement is a bug, not bad input).
    package init(shape: [Int], trusted scalars: [Float]) {
        precondition(Self.elementCount(shape) == scalars.count,
                     "shape \(shape) holds \(Self.elementCount(shape) ?? -1) elements, storage has \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// Zeros, for the package's own code (shapes it computed).
    package static func zeros(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, trusted: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public var rank: Int { shape.count }
    public var count: Int { scalars.count }

    /// The element at row-major position `index` (0..<count; outside it traps, as an array does).
    public subscript(flat index: Int) -> Float {
        get { scalars[index] }
        set { scalars[index] = newValue }
    }

    /// Calls `body` with the elements in row-major order.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    /// The same storage under another shape with the same element count.
    ///
    /// - Throws: `RNNFormatError(.shapeMismatch)` when `newShape` holds another count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        try Tensor(shape: newShape, scalars: scalars)
    }

    /// Moves the storage out, leaving the tensor empty until `restoreScalars` (the runtime's
    /// streaming step, which updates a state in place without a second reference to it).
    package mutating func takeScalars() -> [Float] {
        defer { scalars = [] }
        return scalars
    }

    /// Puts back storage of the shape's element count.
    package mutating func restoreScalars(_ new: [Float]) {
        precondition(Self.elementCount(shape) == new.count, "storage of \(new.count) elements for shape \(shape)")
        scalars = new
    }

    /// Elements of `shape`; nil for a negative dimension or a count beyond `Int`.
    static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dim in shape {
            guard dim >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { return nil }
            count = product
        }
        return count
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
