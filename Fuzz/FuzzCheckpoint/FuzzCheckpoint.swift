import FuzzSupport
import RNNFormat

/// Reads each input as a torch.save checkpoint (zip, pickle, storages); when it loads, writes
/// it as a model file and checks the round trip.
@main
enum FuzzCheckpoint {
    static let input = FuzzInput.scratchPath("in.pt")
    static let output = FuzzInput.scratchPath("out.h5")

    static func main() {
        runFuzzer { data, size in
            FuzzInput.write(data, size, to: FuzzCheckpoint.input)
            FuzzInput.readAndRoundTrip(FuzzCheckpoint.input, output: FuzzCheckpoint.output) { try TorchCheckpoint.read(path: $0) }
            return 0
        }
    }
}
