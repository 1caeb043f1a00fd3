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
            FuzzHDF5.run(data, size)
            return 0
        }
    }

    static func run(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        FuzzInput.write(data, size, to: input)
        let model: ModelFile
        do {
            model = try ModelFile.read(path: input)
        } catch {
            FuzzInput.check(error, file: input)
            return
        }
        do {
            try model.write(to: output, overwrite: true)
            let again = try ModelFile.read(path: output)
            // The writer stores float64 sources as float32, so compare values, not stored types.
            func values(_ m: ModelFile) -> [[String: Tensor]] { m.modules.map { $0.parameters.mapValues(\.floatValue) } }
            if again.modules.map(\.path) != model.modules.map(\.path) || again.modules.map(\.config) != model.modules.map(\.config)
                || values(again) != values(model) {
                fatalError("a model read from the input does not survive write and read")
            }
        } catch {
            fatalError("a model read from the input cannot be written and read back: \(error)")
        }
    }
}
