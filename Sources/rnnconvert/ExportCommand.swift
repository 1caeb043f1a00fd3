import ArgumentParser
import Foundation
import RNNFormat
import RNNFormatWriter
import RNNKitTools

/// `rnnconvert export`: the RNN modules of a model file as a safetensors file that
/// `safetensors.torch.load_file` turns back into a state_dict.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the RNN modules of a model file as a safetensors state_dict.",
        discussion: """
            Reads any file `inspect` accepts (RNNKit HDF5, bare h5py dumps, torch.save \
            checkpoints, safetensors). Tensors are named <module path>.<PyTorch name>; float \
            weights are written as F32 (or F16/BF16 when stored so), int8 weights as I8 with \
            <name>.scale (F32) and <name>.zero_point (I32). Hyperparameters go to __metadata__ \
            (spec/CHECKPOINTS.md). Tensors outside RNN modules are not exported; they are listed \
            on stderr. The file is written atomically.
            """
    )

    @Argument(help: "The model file to export.")
    var input: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The output file; must end in .safetensors.", valueName: "file"))
    var output: String

    @Flag(help: "Replace the output if it exists.")
    var force = false

    @OptionGroup var inference: InferenceArguments

    func validate() throws {
        guard output.hasSuffix(".safetensors") else {
            throw ValidationError("export writes safetensors: the output must end in .safetensors (found \(output))")
        }
    }

    func run() throws {
        try ErrorReporting.run {
            var model = try ModelFile.read(path: input, options: inference.options)
            model.metadata.producer = "rnnconvert \(RNNConvert.configuration.version)"
            try SafetensorsFile.write(model, to: output, overwrite: force)
            let tensors = model.modules.reduce(0) { $0 + $1.parameters.count }
            print("wrote \(output): \(model.modules.count) module(s), \(tensors) parameter tensor(s)")
            if !model.leftovers.isEmpty {
                let shown = model.leftovers.prefix(8).joined(separator: ", ") + (model.leftovers.count > 8 ? ", ... (\(model.leftovers.count - 8) more)" : "")
                FileHandle.standardError.write(Data("note: \(model.leftovers.count) tensor(s) outside RNN modules not exported: \(shown)\n".utf8))
            }
        }
    }
}
