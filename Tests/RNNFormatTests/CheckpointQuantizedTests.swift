import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport

@Suite("Quantized checkpoints: layout decisions and refusals")
struct CheckpointQuantizedTests {
    /// (weight_ih, weight_hh) shapes of n packed entries of a GRU with hidden size 4.
    private func shapes(_ inputs: [Int]) -> [(ih: [Int], hh: [Int])] {
        inputs.map { ([12, $0], [12, 4]) }
    }

    @Test("packed entries are layers or directions by their input widths")
    func directions() throws {
        #expect(try QuantizedCheckpoint.directions(shapes([3, 4, 4]), file: "f", object: "o") == 1)   // 3 layers
        #expect(try QuantizedCheckpoint.directions(shapes([3, 3]), file: "f", object: "o") == 2)      // 1 layer, bidirectional
        #expect(try QuantizedCheckpoint.directions(shapes([3, 3, 8, 8]), file: "f", object: "o") == 2) // 2 layers, bidirectional
        #expect(try QuantizedCheckpoint.directions(shapes([3, 4]), file: "f", object: "o") == 1)      // 2 layers
    }

    @Test("input size equal to hidden size with two entries is ambiguous and refused; nonsense is a shape error")
    func ambiguous() {
        let error = #expect(throws: RNNFormatError.self) { try QuantizedCheckpoint.directions(shapes([4, 4]), file: "f", object: "o") }
        #expect(error?.code == .unknownKind)
        #expect(error?.message.contains("ambiguous") == true)
        let bad = #expect(throws: RNNFormatError.self) { try QuantizedCheckpoint.directions(shapes([3, 5, 7]), file: "f", object: "o") }
        #expect(bad?.code == .shapeMismatch)
    }

    /// A state_dict whose one entry is a CellParamsBase script object of `type` and `reduceRange`.
    private func cellParams(type: String, reduceRange: Int, className: String = "__torch__.torch.classes.rnn.CellParamsBase") -> [UInt8] {
        var p = PickleTestBuilder()
        p.global("collections", "OrderedDict"); p.emptyTuple(); p.reduce()
        p.string("rnn._all_weight_values.0.param")
        p.global("torch", "ScriptObject"); p.emptyTuple(); p.op(0x81)  // NEWOBJ
        p.mark(); p.string(type); p.emptyList(); p.emptyList(); p.emptyList(); p.int(reduceRange); p.append(); p.emptyList(); p.tuple()
        p.string(className); p.op(0x86)  // TUPLE2
        p.op(0x62)  // BUILD
        p.setItem()
        p.stop()
        return torchArchive(pickle: p.bytes)
    }

    @Test("float16 dynamic quantization, reduce_range 0 and unknown classes are refused by name", arguments: [
        ("quantized_dynamic_fp16", 1, "__torch__.torch.classes.rnn.CellParamsBase", "'quantized_dynamic_fp16'"),
        ("quantized_dynamic", 0, "__torch__.torch.classes.rnn.CellParamsBase", "reduce_range 0 is not supported"),
        ("quantized_dynamic", 1, "__torch__.Evil", "found __torch__.Evil"),
    ])
    func refusals(type: String, reduceRange: Int, className: String, expect: String) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("q.pt")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(cellParams(type: type, reduceRange: reduceRange, className: className))))
        let error = #expect(throws: RNNFormatError.self) { try ModelFile.read(path: path) }
        #expect(error?.code == .unsupported)
        #expect(error?.object == "rnn._all_weight_values.0.param")
        #expect(error?.message.contains(expect) == true, "\(String(describing: error))")
    }
}
