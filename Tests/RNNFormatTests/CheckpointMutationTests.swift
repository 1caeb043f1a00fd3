import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport

/// Damaged copies of real checkpoints: whatever the bytes, reading returns or throws a typed
/// error; it never traps (an out-of-range index or overflow would end the test process).
@Suite("Mutated checkpoints and safetensors files never crash the reader")
struct CheckpointMutationTests {
    static let sources = ["quant/qgru_bi_2l/qmodel.pt", "quant/qlstm_cell/qmodel.pt", "float/lstm_proj_bi_2l/train.pt",
                          "checkpoints/lstm_noncontiguous/model.pt", "float/lstm_proj_bi_2l/model.safetensors"]
    static let iterations = Int(ProcessInfo.processInfo.environment["RNNKIT_MUTATIONS"] ?? "") ?? 60

    @Test(arguments: sources)
    func mutations(_ source: String) throws {
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.root + "/" + source)))
        let dir = try TemporaryDirectory()
        let path = dir.file("m" + (source.hasSuffix(".pt") ? ".pt" : ".safetensors"))
        var rng = SeededGenerator(seed: UInt64(source.utf8.count))
        var outcomes: [String: Int] = [:]
        for _ in 0..<Self.iterations {
            var bytes = original
            switch Int.random(in: 0..<4, using: &rng) {
            case 0:  // flip a few bytes anywhere
                for _ in 0..<Int.random(in: 1...4, using: &rng) { bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng) }
            case 1:  // overwrite one byte of the structure at the start (pickle, header) or end (zip directory)
                let region = Bool.random(using: &rng) ? 0..<min(bytes.count, 1200) : max(0, bytes.count - 1200)..<bytes.count
                bytes[Int.random(in: region, using: &rng)] = [0, 0xFF, 0x7F, 0x80, 0x01][Int.random(in: 0..<5, using: &rng)]
            case 2:  // truncate
                bytes.removeLast(Int.random(in: 1..<bytes.count, using: &rng))
            default:  // set a 4-byte little-endian field to a huge value
                let at = Int.random(in: 0..<(bytes.count - 4), using: &rng)
                bytes.replaceSubrange(at..<(at + 4), with: [0xFF, 0xFF, 0xFF, 0x7F])
            }
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            do {
                _ = try ModelFile.read(path: path)
                outcomes["read", default: 0] += 1
            } catch let error as RNNFormatError {
                outcomes["\(error.code)", default: 0] += 1
                #expect(!error.description.contains("\n"))
            }
        }
        // Damage is noticed: most mutations fail (unnoticed ones hit padding or tensor values).
        #expect(outcomes["read", default: 0] < Self.iterations)
    }
}
