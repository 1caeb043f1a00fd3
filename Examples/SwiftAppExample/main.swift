import Foundation
import RNNFormat
import RNNRuntime

// Run from the repository root (tools/example.sh makes the canonical file with rnnconvert):
//   SwiftAppExample encoder.h5 fixtures/float/gru_bi_2l
// The fixture folder holds a 2-layer bidirectional GRU at state_dict prefix model.encoder, as an
// h5py dump (dump.h5) and a torch.save training checkpoint (train.pt), with PyTorch's own input
// and output (batched.input.npy, batched.output.npy).
let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    print("usage: SwiftAppExample CANONICAL.h5 FIXTURE_DIR")
    exit(2)
}
let fixtures = URL(fileURLWithPath: arguments[2], isDirectory: true)
let input = try NpyArray.readFloatTensor(path: fixtures.appendingPathComponent("batched.input.npy").path)  // (T, B, I)
let expected = try NpyArray.readFloatTensor(path: fixtures.appendingPathComponent("batched.output.npy").path)

// Three ways an app gets a model: bytes in memory (downloaded, or decrypted), a bundle URL to
// a bare h5py dump of a state_dict, and a PyTorch checkpoint. Nothing is executed; every file
// is checked before use.
let sources: [(String, ModelFile)] = [
    ("canonical .h5 from Data", try ModelFile(data: Data(contentsOf: URL(fileURLWithPath: arguments[1])), name: "encoder.h5")),
    ("h5py dump from a URL", try ModelFile(contentsOf: fixtures.appendingPathComponent("dump.h5"))),
    ("torch.save checkpoint", try ModelFile(contentsOf: fixtures.appendingPathComponent("train.pt"))),
]
var worst: Float = 0
for (label, file) in sources {
    let gru = try GRU(file.module(at: "model.encoder"))  // immutable and Sendable: share it between threads
    let (output, hN) = try gru(input)
    let difference = zip(output.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
    worst = max(worst, difference)
    print("\(label): output \(output.shape), h_n \(hN.shape), max |ours - PyTorch| \(difference <= 1e-5 ? "<= 1e-5" : "\(difference)")")
}

// Streaming: a unidirectional GRU fed one frame at a time gives what one call over the whole
// sequence gives. This one is made in code with PyTorch's default initialisation (SplitMix64:
// reproducible). The state is a plain value: keep one per stream.
var generator = SplitMix64(seed: 42)
let streamer = try GRU(inputSize: input.shape[2], hiddenSize: 8, numLayers: 2, using: &generator)
let sequence = try input.slice(along: 1, 0..<1).reshaped([input.shape[0], input.shape[2]])  // (T, I): the first sequence
var state = streamer.initialState()  // unbatched: h is (layers, hidden)
var last: [Float] = []
for t in 0..<sequence.shape[0] {
    last = try streamer.step(sequence.slice(along: 0, t..<t + 1), state: &state).scalars  // (1, hidden)
}
let (whole, _) = try streamer(sequence)
print("streaming \(sequence.shape[0]) frames equals one call:", last == Array(whole.scalars.suffix(8)))

guard worst <= 1e-5 else {
    print("FAILED: an output differs from PyTorch by \(worst)")
    exit(1)
}
print("all three sources match PyTorch within 1e-5")
