import ArgumentParser
import RNNFormat
import RNNFormatWriter
import RNNKitTools

/// `rnnconvert verify FILE`: checks structure and every stored checksum.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a model file: restricted profile, module validity and every stored checksum (sha256 per tensor; CRC-32 of torch.save members)."
    )

    @Argument(help: "The model file.")
    var file: String

    @Flag(help: "Fail when a tensor carries no checksum (e.g. bare h5py dumps).")
    var requireChecksums = false

    @OptionGroup var inference: InferenceArguments

    func run() throws {
        try ErrorReporting.run {
            let report = try ModelFile.verify(path: file, options: inference.options)
            for mismatch in report.mismatches {
                printLine("checksum mismatch in \(mismatch.object ?? "?")")
            }
            guard report.mismatches.isEmpty, let model = report.model else {
                throw RNNFormatError(.checksumMismatch, file: file, "\(report.mismatches.count) tensor(s) do not match their \(report.checksum.rawValue)")
            }
            if requireChecksums, let first = report.unchecked.first {
                throw RNNFormatError(.checksumMismatch, file: file, object: first,
                                     "no sha256 attribute (\(report.unchecked.count) tensor(s) without checksum)")
            }
            let matched = report.checksum == .none ? "" : "\(report.checked.count) tensor(s) match their \(report.checksum.rawValue), "
            printLine("ok: \(file): \(model.modules.count) module(s) valid, \(matched)\(report.unchecked.count) without checksum")
        }
    }
}
