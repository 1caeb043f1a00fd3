import ArgumentParser
import RNNFormat
import RNNFormatWriter
import RNNKitTools

/// `rnnconvert import SOURCE -o OUT.h5`: writes a canonical v1 file from any readable source.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Write a canonical RNNKit v1 file from a bare h5py dump, a canonical file or a checkpoint."
    )

    @Argument(help: "The source file.")
    var source: String

    @Option(name: .shortAndLong, help: "The output .h5 file.")
    var output: String

    @OptionGroup var inference: InferenceArguments

    @Flag(help: "Replace OUT if it exists.")
    var force = false

    func run() throws {
        try ErrorReporting.run {
            var model = try ModelFile.read(path: source, options: inference.options)
            let leftovers = model.leftovers
            model.metadata.formatVersion = FileMetadata.currentVersion
            model.metadata.producer = "rnnconvert \(RNNConvert.configuration.version)"
            try model.write(to: output, overwrite: force)
            printLine("imported \(source) -> \(output)")
            printLine("modules: \(model.modules.count)")
            for module in model.modules {
                let summary = ModuleSummary(module)
                var shape = "input \(summary.inputSize), hidden \(summary.hiddenSize), \(summary.numLayers) layer(s), \(summary.directions) direction(s)"
                if summary.projSize > 0 { shape += ", proj \(summary.projSize)" }
                printLine("  \(module.path.isEmpty ? "(root)" : module.path) -> \(module.groupPath): \(summary.kind.rawValue) \(shape), \(summary.dtype)")
            }
            printLine("left out (not RNN parameters): \(leftovers.count)")
            for leftover in leftovers {
                printLine("  \(leftover)")
            }
        }
    }
}
