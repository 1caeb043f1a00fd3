import ArgumentParser
import Foundation
import RNNFormat
import RNNFormatWriter
import RNNKitTools

/// `rnnconvert inspect FILE [--json]`: what a model file holds.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show the modules, hyperparameters, dtypes, sizes, metadata and leftovers of a model file."
    )

    @Argument(help: "A model file: canonical .h5, bare h5py dump, or any source rnnconvert import reads.")
    var file: String

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var inference: InferenceArguments

    func run() throws {
        try ErrorReporting.run {
            let model = try ModelFile.read(path: file, options: inference.options)
            let summary = ModelSummary(model, source: try SourceFormat.detect(path: file))
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                printLine(String(decoding: try encoder.encode(summary), as: UTF8.self))
            } else {
                printText(summary)
            }
        }
    }

    private func printText(_ summary: ModelSummary) {
        printLine("file: \(file)")
        if let version = summary.formatVersion {
            printLine("format: \(summary.format ?? FileMetadata.formatName) \(version)" + (summary.producer.map { " (producer: \($0))" } ?? ""))
        } else {
            let container = summary.source == .hdf5 ? "bare HDF5 dump"
                : summary.producer == TorchCheckpoint.torchScriptProducer ? "TorchScript archive (torch.jit.save)"
                : "\(summary.source.rawValue) file"
            printLine("format: \(container), no RNNKit metadata (kinds and sizes inferred from tensor names and shapes)")
        }
        for (key, value) in summary.user.sorted(by: { $0.key < $1.key }) {
            printLine("user.\(key): \(value)")
        }
        printLine("modules: \(summary.modules.count)")
        for module in summary.modules {
            let place = summary.source == .hdf5 ? "HDF5 group \(module.group)" : "keys \(module.path.isEmpty ? "" : module.path + ".")*"
            printLine("  \(module.path.isEmpty ? "(root)" : module.path)  [\(place)]")
            printLine("    kind: \(module.kind.rawValue)")
            printLine("    input_size: \(module.inputSize), hidden_size: \(module.hiddenSize), layers: \(module.numLayers), directions: \(module.directions), proj_size: \(module.projSize)")
            var options = "    batch_first: \(module.batchFirst), bias: \(module.bias), dropout: \(module.dropout)"
            if let nonlinearity = module.nonlinearity { options += ", nonlinearity: \(nonlinearity.rawValue)" }
            printLine(options)
            printLine("    dtype: \(module.dtype), quantization: \(module.quantization)")
            printLine("    parameters: \(module.parameterCount) (\(module.bytes) bytes)")
        }
        printLine("leftovers (not RNN parameters): \(summary.leftovers.count)")
        for leftover in summary.leftovers {
            printLine("  \(leftover)")
        }
    }
}
