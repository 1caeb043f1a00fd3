import FuzzSupport
import RNNFormat

/// Reads each input as a model file (profile, structure, checksums, validation); when it loads,
/// writes it back and checks the round trip.
@main
enum FuzzHDF5 {
    static let input = FuzzInput.scratchPath("in.h5")
    static let output = FuzzInput.scratchPath("out.h5")

    static func main() {
        runFuzzer { data, size in
            FuzzInput.write(data, size, to: FuzzHDF5.input)
            FuzzInput.readAndRoundTrip(FuzzHDF5.input, output: FuzzHDF5.output) { try ModelFile.read(path: $0) }
            return 0
        }
    }
}
