import ArgumentParser
import RNNFormat
import RNNFormatWriter
import RNNKitTools
import RNNRuntime

/// `rnnconvert compare`: the difference between two .npy arrays, e.g. our `run` output and
/// PyTorch's for the same input.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Print the max and mean absolute difference of two .npy arrays of one shape.",
        discussion: "With --max-abs, exits non-zero when the largest difference exceeds the tolerance."
    )

    @Argument(help: "The first .npy array (float16, float32 or float64).")
    var first: String

    @Argument(help: "The second .npy array, same shape.")
    var second: String

    @Option(help: ArgumentHelp("Fail when the max absolute difference exceeds this.", valueName: "tolerance"))
    var maxAbs: Float?

    func validate() throws {
        if let maxAbs, !(maxAbs >= 0) {
            throw ValidationError("--max-abs must be a non-negative number (found \(maxAbs))")
        }
    }

    func run() throws {
        try ErrorReporting.run {
            let a = try NpyArray.readFloatTensor(path: first)
            let b = try NpyArray.readFloatTensor(path: second)
            guard a.shape == b.shape else {
                throw RNNFormatError(.shapeMismatch, file: second, "expected shape \(a.shape) (the shape of \(first)), found \(b.shape)")
            }
            let difference = try TensorDifference(a, b)
            print("\(difference.count) elements, shape \(a.shape): max abs \(difference.maxAbs) (at flat index \(difference.argMax)), mean abs \(difference.meanAbs)")
            if let maxAbs, !(difference.maxAbs <= maxAbs) {
                throw ToleranceExceeded(first: first, second: second, maxAbs: difference.maxAbs, tolerance: maxAbs)
            }
        }
    }
}

/// The arrays differ by more than `--max-abs` allows.
struct ToleranceExceeded: Error, CustomStringConvertible {
    var first: String
    var second: String
    var maxAbs: Float
    var tolerance: Float
    var description: String {
        "\(second): max abs difference from \(first) is \(maxAbs), above the tolerance \(tolerance)"
    }
}
