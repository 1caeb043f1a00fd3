import ArgumentParser
import Foundation
import RNNFormat
import RNNFormatWriter
import RNNKitTools
import RNNRuntime

/// `rnnconvert quantize IN -o OUT.h5`: int8 weights with PyTorch's dynamic-quantization rule,
/// and a report of what it cost per module.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Write a copy of a model file with int8 weight matrices.",
        discussion: """
            Quantizes weight_ih, weight_hh (and weight_hr of projected LSTMs) of every RNN \
            module, or of the modules under each --module prefix, with PyTorch's quantize_dynamic rule: \
            symmetric int8, one scale per matrix (--per-channel: one per output row). Biases \
            stay float32. At run time activations are quantized per call as PyTorch does \
            (spec/FORMAT.md, "Quantized tensors"). The file is written atomically. For each \
            module, prints the stored bytes before and after, and the max and mean absolute \
            difference of its outputs against the float module on one seeded random sequence \
            (T=100, B=1, inputs uniform in [-1, 1)).
            """
    )

    @Argument(help: "The float model file (any file `inspect` accepts).")
    var input: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The output .h5 file.", valueName: "file"))
    var output: String

    @Flag(help: "One scale per output row instead of one per matrix (not a PyTorch scheme; more accurate).")
    var perChannel = false

    @Option(name: .customLong("module"),
            help: ArgumentHelp("The dotted prefix of modules to quantize; repeat for several (default: all).", valueName: "prefix"))
    var modules: [String] = []

    @Flag(help: "Replace the output if it exists.")
    var force = false

    @OptionGroup var inference: InferenceArguments

    /// The prefixes of `--module`, or nil (every module) when absent.
    var prefixes: [String]? { modules.isEmpty ? nil : modules }

    func validate() throws {
        if modules.contains(where: \.isEmpty) {
            throw ValidationError("--module takes a module's dotted prefix, found an empty one")
        }
    }

    func run() throws {
        try ErrorReporting.run {
            let model = try ModelFile.read(path: input, options: inference.options)
            let quantizer = Quantizer(scheme: perChannel ? .perChannel : .perTensor)
            var result = try ModelQuantization(quantizing: model, with: quantizer, modules: prefixes, file: input)
            result.model.metadata.formatVersion = FileMetadata.currentVersion
            result.model.metadata.producer = "rnnconvert \(RNNConvert.configuration.version)"
            result.model.leftovers = []
            try result.model.write(to: output, overwrite: force)
            printLine("quantized \(input) -> \(output) (\(quantizer.scheme.rawValue) int8)")
            for report in result.reports {
                let ratio = 100 * Double(report.bytesAfter) / Double(max(report.bytesBefore, 1))
                printLine("  \(report.path.isEmpty ? "(root)" : report.path): \(report.kind.rawValue), "
                    + "bytes \(report.bytesBefore) -> \(report.bytesAfter) (\(String(format: "%.1f", ratio))%), "
                    + "max abs error \(String(format: "%.3e", report.maxAbsError)), "
                    + "mean abs error \(String(format: "%.3e", report.meanAbsError)) "
                    + "(T=\(report.steps), B=1, seed \(report.seed))")
            }
            let untouched = result.model.modules.count - result.reports.count
            if untouched > 0 {
                printLine("  left float: \(untouched) module(s) not selected by --module")
            }
            if !model.leftovers.isEmpty {
                FileHandle.standardError.write(Data("note: \(model.leftovers.count) tensor(s) outside RNN modules not written\n".utf8))
            }
        }
    }
}
