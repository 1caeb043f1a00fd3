import FuzzSupport
import RNNFormat

/// Reads each input from memory as a model file (RNNKit's HDF5 reader: profile, structure,
/// checksums, validation; other formats by their signatures); when it loads, writes it back and
/// checks the round trip.
@main
enum FuzzHDF5 {
    static let output = FuzzInput.scratchPath("out.h5")

    static func main() {
        runFuzzer { data, size in
            FuzzInput.readAndRoundTrip(data, size, output: FuzzHDF5.output)
            return 0
        }
    }
}
