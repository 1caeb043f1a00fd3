import Foundation
import RNNFormat
import Testing
import _RNNKitTestSupport
import RNNFormatWriter

/// `rnnconvert export` end to end: PyTorch checkpoints to safetensors, then `run` on the result.
@Suite("rnnconvert export")
struct ExportCommandTests {
    static let fixtures = RunCommandTests.fixtures

    struct Case: Sendable, CustomTestStringConvertible {
        var checkpoint: String
        var flags: [String]
        var caseDirectory: String
        var call: String
        /// Max abs difference allowed against PyTorch: 1e-5 for float, 1e-4 for int8 modules.
        var tolerance: Float = 1e-5
        var testDescription: String { checkpoint }
    }

    /// A training checkpoint, a relu RNN that needs --nonlinearity, a batch_first GRU, a float16
    /// LSTM with projections, PyTorch's dynamically quantized GRU and LSTMCell.
    static let cases: [Case] = [
        Case(checkpoint: "float/gru_bi_2l/train.pt", flags: [], caseDirectory: "float/gru_bi_2l", call: "packed_h0"),
        Case(checkpoint: "float/rnn_relu_bi_2l/model.pt", flags: ["--nonlinearity", "relu"], caseDirectory: "float/rnn_relu_bi_2l", call: "h0"),
        Case(checkpoint: "float/gru_batch_first/model.safetensors", flags: ["--batch-first"], caseDirectory: "float/gru_batch_first", call: "batched"),
        Case(checkpoint: "checkpoints/lstm_proj_bi_2l_float16/model.pt", flags: [], caseDirectory: "checkpoints/lstm_proj_bi_2l_float16", call: "h0"),
        Case(checkpoint: "quant/qgru_bi_2l/qmodel.pt", flags: [], caseDirectory: "quant/qgru_bi_2l", call: "packed_h0", tolerance: 1e-4),
        Case(checkpoint: "quant/qlstm_cell/qmodel.pt", flags: [], caseDirectory: "quant/qlstm_cell", call: "batched_state", tolerance: 1e-4),
    ]

    @Test("the exported file runs like PyTorch", arguments: cases)
    func exportThenRun(_ c: Case) throws {
        let scratch = try TemporaryDirectory()
        let out = URL(fileURLWithPath: scratch.path)
        let exported = out.appendingPathComponent("model.safetensors").path
        let export = try CLI.run(["export", Self.fixtures.appendingPathComponent(c.checkpoint).path, "-o", exported] + c.flags)
        #expect(export.status == 0, "\(export.stderr)")
        #expect(!export.stderr.contains("error"))

        let directory = Self.fixtures.appendingPathComponent(c.caseDirectory)
        let caseFile = try JSONDecoder().decode(RunCommandTests.CaseFile.self, from: Data(contentsOf: directory.appendingPathComponent("case.json")))
        let files = try #require(caseFile.files(module: nil, call: c.call))
        var arguments = ["run", exported, "--input", directory.appendingPathComponent(try #require(files["input"])).path, "--out", out.path]
        for option in ["h0", "c0", "lengths"] {
            if let name = files[option] { arguments += ["--\(option)", directory.appendingPathComponent(name).path] }
        }
        let run = try CLI.run(arguments)
        #expect(run.status == 0, "\(run.stderr)")
        for field in ["output", "h_n", "c_n"] {
            guard let name = files[field] else { continue }
            let result = try NpyArray.readFloatTensor(path: out.appendingPathComponent("\(field).npy").path)
            let expected = try NpyArray.readFloatTensor(path: directory.appendingPathComponent(name).path)
            #expect(result.shape == expected.shape)
            let worst = zip(result.scalars, expected.scalars).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            #expect(worst <= c.tolerance, "\(field): max abs diff \(worst)")
        }
    }

    @Test("tensors outside RNN modules are listed, not exported")
    func leftoversListed() throws {
        let scratch = try TemporaryDirectory()
        let out = URL(fileURLWithPath: scratch.path)
        let exported = out.appendingPathComponent("m.safetensors").path
        let result = try CLI.run(["export", Self.fixtures.appendingPathComponent("float/lstm_proj/model.pt").path, "-o", exported])
        #expect(result.status == 0)
        #expect(result.stderr == "note: 3 tensor(s) outside RNN modules not exported: embed.weight, head.bias, head.weight\n")
        let model = try ModelFile.read(path: exported)
        #expect(model.leftovers.isEmpty)
        #expect(model.modules.map(\.path) == ["rnn"])
    }

    @Test("an existing output needs --force; a non-safetensors output and hostile input are refused")
    func refusals() throws {
        let scratch = try TemporaryDirectory()
        let out = URL(fileURLWithPath: scratch.path)
        let target = out.appendingPathComponent("m.safetensors")
        try Data("keep".utf8).write(to: target)
        let source = Self.fixtures.appendingPathComponent("float/gru/model.pt").path
        let refused = try CLI.run(["export", source, "-o", target.path])
        #expect(refused.status != 0)
        #expect(refused.stderr.hasPrefix("error: ") && refused.stderr.contains("output exists"))
        #expect(try Data(contentsOf: target) == Data("keep".utf8))
        let forced = try CLI.run(["export", source, "-o", target.path, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try ModelFile.read(path: target.path).modules.count == 1)

        let h5 = try CLI.run(["export", source, "-o", out.appendingPathComponent("m.h5").path])
        #expect(h5.status != 0)
        #expect(h5.stderr.contains("the output must end in .safetensors"))

        let hostile = try CLI.run(["export", Self.fixtures.appendingPathComponent("hostile/pickle/global_posix_system.pt").path,
                                               "-o", out.appendingPathComponent("h.safetensors").path])
        #expect(hostile.status != 0)
        #expect(hostile.stderr.contains("refusing pickle global 'posix.system'"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted() == ["m.safetensors"])
    }
}
