import RNNFormat
/// Every failure of building or running a module.
///
/// Loading a module from a `ModuleRecord` that does not match its hyperparameters throws the
/// `RNNFormatError` of `ModuleRecord.validate`; everything that goes wrong once a module exists
/// is one of these cases. `description` is the one line the CLI prints after `error: `.
public enum RNNRuntimeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// An argument (`input`, `h0`, `c0`, `lengths`, a streaming state) whose shape does not fit
    /// the module: `expected` spells the accepted layouts with letters for free sizes
    /// (`(T, B, 5)`), `actual` is the shape given.
    case shapeMismatch(module: String, argument: String, expected: String, actual: [Int])
    /// Sequence lengths outside 1...T.
    case invalidLengths(module: String, message: String)
    /// A request the module cannot serve (streaming a bidirectional module, a module kind that
    /// the called type does not run, lengths for a cell).
    case unsupported(module: String, message: String)

    public var description: String {
        switch self {
        case .shapeMismatch(let module, let argument, let expected, let actual):
            "\(module): \(argument): expected shape \(expected), found \(ShapeText.tuple(actual))"
        case .invalidLengths(let module, let message):
            "\(module): lengths: \(message)"
        case .unsupported(let module, let message):
            "\(module): \(message)"
        }
    }
}

/// Spelling of shapes in messages: `(2, 3)`, `(5,)`, `()`, like PyTorch and NumPy.
enum ShapeText {
    static func tuple(_ dims: [Int]) -> String {
        tuple(dims.map(String.init))
    }

    static func tuple(_ dims: [String]) -> String {
        dims.count == 1 ? "(\(dims[0]),)" : "(" + dims.joined(separator: ", ") + ")"
    }
}
