import RNNFormat
/// Cutting tensors into chunks along one axis and joining them back: what a streaming caller
/// needs to feed a sequence piece by piece.
extension Tensor {
    /// The elements whose index along `axis` lies in `range`.
    ///
    /// - Parameters:
    ///   - axis: 0..<rank.
    ///   - range: within 0...shape[axis].
    public func slice(along axis: Int, _ range: Range<Int>) -> Tensor {
        precondition(axis >= 0 && axis < rank, "axis \(axis) out of range for shape \(shape)")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[axis], "range \(range) out of bounds for dimension \(shape[axis])")
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        var newShape = shape
        newShape[axis] = range.count
        var out: [Float] = []
        out.reserveCapacity(outer * range.count * inner)
        for o in 0..<outer {
            let start = (o * shape[axis] + range.lowerBound) * inner
            out += scalars[start..<start + range.count * inner]
        }
        return Tensor(shape: newShape, trusted: out)
    }

    /// Joins tensors that agree in every dimension but `axis`.
    ///
    /// - Parameters:
    ///   - tensors: at least one tensor.
    ///   - axis: 0..<rank.
    public static func concatenate(_ tensors: [Tensor], along axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "nothing to concatenate")
        let first = tensors[0]
        precondition(axis >= 0 && axis < first.rank, "axis \(axis) out of range for shape \(first.shape)")
        for t in tensors {
            precondition(t.rank == first.rank && zip(t.shape, first.shape).enumerated().allSatisfy { $0.offset == axis || $0.element.0 == $0.element.1 },
                         "shapes \(t.shape) and \(first.shape) differ outside axis \(axis)")
        }
        let outer = first.shape[..<axis].reduce(1, *)
        let inner = first.shape[(axis + 1)...].reduce(1, *)
        var newShape = first.shape
        newShape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
        var out: [Float] = []
        out.reserveCapacity(newShape.reduce(1, *))
        for o in 0..<outer {
            for t in tensors {
                let block = t.shape[axis] * inner
                out += t.scalars[o * block..<(o + 1) * block]
            }
        }
        return Tensor(shape: newShape, trusted: out)
    }
}
