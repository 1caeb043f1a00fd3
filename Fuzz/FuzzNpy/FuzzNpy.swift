import FuzzSupport
import RNNFormat

/// Decodes each input as a .npy array in memory; when it decodes, encodes it and checks the
/// round trip.
@main
enum FuzzNpy {
    static func main() {
        runFuzzer { data, size in
            FuzzNpy.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
            return 0
        }
    }

    static func run(_ bytes: [UInt8]) {
        let file = "fuzz.npy"
        let array: NpyArray
        do {
            array = try NpyArray(decoding: bytes, file: file)
        } catch {
            FuzzInput.check(error, file: file)
            return
        }
        if array.values.count != array.shape.reduce(1, *) {
            fatalError("decoded \(array.values.count) values for shape \(array.shape)")
        }
        do {
            let again = try NpyArray(decoding: array.encoded(), file: file)
            // NaN payloads compare unequal; compare the encodings instead.
            if again.encoded() != array.encoded() { fatalError("a decoded array does not survive encoding") }
        } catch {
            fatalError("a decoded array cannot be encoded and decoded: \(error)")
        }
        _ = array.floatTensor
        _ = array.integers
    }
}
