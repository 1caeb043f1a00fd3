import FuzzSupport
import RNNFormat

/// Reads each input as a safetensors file; when it loads, writes it as a model file and checks
/// the round trip.
@main
enum FuzzSafetensors {
    static let input = FuzzInput.scratchPath("in.safetensors")
    static let output = FuzzInput.scratchPath("out.h5")

    static func main() {
        runFuzzer { data, size in
            FuzzInput.write(data, size, to: FuzzSafetensors.input)
            FuzzInput.readAndRoundTrip(FuzzSafetensors.input, output: FuzzSafetensors.output) { try SafetensorsFile.read(path: $0) }
            return 0
        }
    }
}
