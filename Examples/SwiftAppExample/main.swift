import Foundation
import RNNRuntime

// Make a GRU in code with PyTorch's default initialisation (SplitMix64: reproducible), save it,
// and load it back. Files converted from PyTorch by `rnnconvert import` load the same way.
var generator = SplitMix64(seed: 42)
let created = try GRU(inputSize: 4, hiddenSize: 8, numLayers: 2, batchFirst: true, path: "encoder", using: &generator)
let path = FileManager.default.temporaryDirectory.appendingPathComponent("example-\(UUID().uuidString).h5").path
defer { try? FileManager.default.removeItem(atPath: path) }
try ModelFile(modules: [created.record]).write(to: path, overwrite: false)

let file = try ModelFile.read(path: path)
guard let record = file.modules.first(where: { $0.path == "encoder" }) else {
    throw RNNFormatError(.moduleNotFound, file: path, "no module at prefix \"encoder\"")
}
let gru = try GRU(record)  // immutable and Sendable: share it between threads

// One call over a batch of two sequences, (B, T, I) because batchFirst; the second sequence is
// 6 steps long, so its output is zero past step 6 and its h_n is taken at step 6.
let steps = 10
let input = Tensor(shape: [2, steps, 4], scalars: (0..<2 * steps * 4).map { Float($0 % 9) / 9 - 0.5 })
let (output, hN) = try gru(input, lengths: [10, 6])
print("output", output.shape, "h_n", hN.shape)  // [2, 10, 8] [2, 2, 8]

// Streaming: feed the first sequence one frame at a time, carrying the state between calls.
// The state is a plain value: keep one per stream.
let first = input.slice(along: 0, 0..<1).reshaped([steps, 4])  // unbatched (T, I)
var state = gru.initialState()  // h: (layers, hidden) = (2, 8)
for t in 0..<steps {
    let frame = first.slice(along: 0, t..<t + 1)  // (1, I)
    let y = try gru.step(frame, state: &state)  // (1, hidden)
    if t == steps - 1 { print("last frame output", y.scalars.prefix(3)) }
}
// The streamed state equals the batch call's h_n for that sequence.
print("same h_n:", state.h.scalars == hN.slice(along: 1, 0..<1).scalars)
