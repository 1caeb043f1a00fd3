import ArgumentParser
import Foundation
import RNNFormat
import RNNFormatWriter
import RNNKitTools
import RNNRuntime

/// `rnnconvert run`: one module of a model file on .npy inputs, results as .npy files in
/// PyTorch's shapes.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one module on .npy inputs and write its results as .npy files.",
        discussion: """
            Inputs are float32 .npy arrays (float16 and float64 are converted) shaped as PyTorch \
            takes them for the module and its batch_first; lengths are int64 (int32 accepted). \
            Writes DIR/output.npy (sequence modules), DIR/h_n.npy and, for LSTM kinds, \
            DIR/c_n.npy, all float32 in PyTorch's shapes. For cells h_n.npy holds h' and \
            c_n.npy c'.
            """
    )

    @Argument(help: "The model file (any file `inspect` accepts).")
    var model: String

    @Option(help: ArgumentHelp("The input .npy: (T, B, I), (B, T, I) when batch_first, (T, I), (V, ...); cells (..., I).", valueName: "file"))
    var input: String

    @Option(help: ArgumentHelp("The directory for the results (created when missing).", valueName: "dir"))
    var out: String

    @Option(help: ArgumentHelp("The module's dotted state_dict prefix; may be omitted when the file holds one module.", valueName: "prefix"))
    var module: String?

    @Option(help: ArgumentHelp("Initial hidden state .npy (zeros when absent).", valueName: "file"))
    var h0: String?

    @Option(help: ArgumentHelp("Initial cell state .npy for LSTM kinds (zeros when absent).", valueName: "file"))
    var c0: String?

    @Option(help: ArgumentHelp("Sequence lengths .npy, int64, shape (B,) or (V, B): packed-sequence semantics.", valueName: "file"))
    var lengths: String?

    func run() throws {
        try ErrorReporting.run(execute)
    }

    private func execute() throws {
        let file = try ModelFile.read(path: model)
        let record = try file.module(at: module, file: model)
        let runner = try AnyModule(record)
        let inputTensor = try NpyArray.readFloatTensor(path: input)
        let h0Tensor = try h0.map { try NpyArray.readFloatTensor(path: $0) }
        let c0Tensor = try c0.map { try NpyArray.readFloatTensor(path: $0) }
        let lengthValues = try lengths.map { try Self.readLengths(path: $0) }
        let result = try runner(inputTensor, h0: h0Tensor, c0: c0Tensor, lengths: lengthValues)

        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            throw RNNFormatError(.io, file: out, "cannot create the output directory: \(error.localizedDescription)")
        }
        let directory = URL(fileURLWithPath: out)
        if let output = result.output {
            try NpyArray(output).write(path: directory.appendingPathComponent("output.npy").path)
        }
        try NpyArray(result.h).write(path: directory.appendingPathComponent("h_n.npy").path)
        if let c = result.c {
            try NpyArray(c).write(path: directory.appendingPathComponent("c_n.npy").path)
        }
    }

    /// Integer lengths, shape (B,) or (V, B); the runtime checks them against the input.
    static func readLengths(path: String) throws -> [Int] {
        let (shape, values) = try NpyArray.readIntegers(path: path)
        guard shape.count == 1 || shape.count == 2 else {
            throw RNNFormatError(.shapeMismatch, file: path, "expected lengths of shape (B,) or (V, B), found \(shape)")
        }
        return values.map { Int($0) }
    }
}
