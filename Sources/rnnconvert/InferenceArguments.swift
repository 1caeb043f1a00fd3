import ArgumentParser
import RNNFormat
import RNNFormatWriter
import RNNKitTools

extension Nonlinearity: ExpressibleByArgument {}

/// Flags for what a bare dump or checkpoint does not record; a file's own attributes win.
struct InferenceArguments: ParsableArguments {
    @Flag(help: "Treat modules without a batch_first attribute as batch_first=True.")
    var batchFirst = false

    @Option(help: "Nonlinearity of RNN/RNNCell modules without a nonlinearity attribute (tanh or relu).")
    var nonlinearity: Nonlinearity = .tanh

    var options: InferenceOptions { InferenceOptions(batchFirst: batchFirst, nonlinearity: nonlinearity) }
}
