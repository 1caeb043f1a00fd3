import Foundation
import RNNFormat
import Testing
import _RNNKitTestSupport
import RNNFormatWriter

/// `rnnconvert quantize` end to end: the built binary on the PyTorch fixtures.
@Suite("rnnconvert quantize")
struct QuantizeCommandTests {
    static let fixtures = CLI.repositoryRoot + "/fixtures"

    struct Case: Sendable, CustomTestStringConvertible {
        var directory: String
        var call: String
        var testDescription: String { "\(directory).\(call)" }
    }

    /// A packed multi-layer bidirectional GRU, an LSTM cell streamed from a state, a packed LSTM.
    static let cases: [Case] = [
        Case(directory: "quant/qgru_bi_2l", call: "packed_h0"),
        Case(directory: "quant/qlstm_cell", call: "batched_state"),
        Case(directory: "quant/qlstm_bi", call: "packed"),
    ]

    @Test("quantize, then run, matches PyTorch's quantized module (max abs 1e-4, mean abs 1e-6)", arguments: cases)
    func quantizeThenRun(_ c: Case) throws {
        let temp = try TemporaryDirectory()
        let directory = Self.fixtures + "/" + c.directory
        let quantized = temp.file("q.h5")
        let result = try CLI.run(["quantize", directory + "/dump.h5", "-o", quantized])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("error"), "\(result.stderr)")
        // One report line per module: bytes before and after, error against the float module.
        let report = result.stdout.split(separator: "\n").filter { $0.contains("bytes ") }
        #expect(report.count == 1)
        #expect(report.first?.contains("max abs error") == true && report.first?.contains("mean abs error") == true)

        let caseFile = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/case.json"))) as? [String: Any]
        let calls = try #require(caseFile?["calls"] as? [[String: Any]])
        let call = try #require(calls.first { $0["name"] as? String == c.call })
        var arguments = ["run", quantized, "--input", directory + "/" + (try #require(call["input"] as? String)), "--out", temp.path]
        for option in ["h0", "c0", "lengths"] {
            if let name = call[option] as? String { arguments += ["--\(option)", directory + "/" + name] }
        }
        let run = try CLI.run(arguments)
        #expect(run.status == 0, "\(run.stderr)")
        for field in ["output", "h_n", "c_n"] {
            guard let name = call[field] as? String else { continue }
            let ours = try NpyArray.readFloatTensor(path: temp.file("\(field).npy"))
            let expected = try NpyArray.readFloatTensor(path: directory + "/" + name)
            #expect(ours.shape == expected.shape)
            let differences = zip(ours.scalars, expected.scalars).map { ($0 - $1).magnitude }
            let worst = differences.max() ?? 0
            let mean = differences.reduce(0, +) / Float(max(differences.count, 1))
            #expect(worst <= 1e-4 && mean <= 1e-6, "\(field): max abs \(worst), mean abs \(mean)")
        }
    }

    @Test("--per-channel writes one scale per row; --module leaves other modules float")
    func options() throws {
        let temp = try TemporaryDirectory()
        let out = temp.file("q.h5")
        let result = try CLI.run(["quantize", Self.fixtures + "/float/two_modules/model.pt", "-o", out, "--per-channel", "--module", "decoder"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("decoder: LSTM, bytes "))
        #expect(!result.stdout.contains("encoder: GRU, bytes "))
        let model = try ModelFile.read(path: out)
        let decoder = try #require(model.modules.first { $0.path == "decoder" })
        let encoder = try #require(model.modules.first { $0.path == "encoder" })
        #expect(decoder.quantization == .perChannel)
        #expect(encoder.quantization == nil)
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var name: String
        var arguments: @Sendable (String) -> [String]
        var message: String
        var testDescription: String { name }
    }

    static let refusals: [Refusal] = [
        Refusal(name: "unknown prefix", arguments: { ["quantize", fixtures + "/float/two_modules/dump.h5", "-o", $0, "--module", "decoder", "--module", "head"] },
                message: "dump.h5: head: selects no module; the file holds decoder, encoder"),
        Refusal(name: "empty prefix", arguments: { ["quantize", fixtures + "/float/gru/dump.h5", "-o", $0, "--module", "rnn", "--module", ""] },
                message: "--module takes a module's dotted prefix, found an empty one"),
        Refusal(name: "not a model", arguments: { ["quantize", fixtures + "/quant/qgru/q.weight_ih_l0.npy", "-o", $0] },
                message: "q.weight_ih_l0.npy"),
        Refusal(name: "missing input", arguments: { ["quantize", fixtures + "/nonexistent.h5", "-o", $0] },
                message: "nonexistent.h5"),
    ]

    @Test("refusals print one error line and write nothing", arguments: refusals)
    func refusal(_ r: Refusal) throws {
        let temp = try TemporaryDirectory()
        let result = try CLI.run(r.arguments(temp.file("q.h5")))
        #expect(result.status != 0)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderrLines.first?.hasPrefix("error: ") == true)
        #expect(result.stderr.contains(r.message), "\(result.stderr)")
        #expect(temp.entries().isEmpty)
    }

    @Test("an existing output is kept without --force, replaced with it; a quantized input is refused")
    func overwriteAndRequantize() throws {
        let temp = try TemporaryDirectory()
        let out = temp.file("q.h5")
        let input = Self.fixtures + "/float/gru/dump.h5"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: out))
        let refused = try CLI.run(["quantize", input, "-o", out])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("output exists"), "\(refused.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data("keep".utf8))

        let forced = try CLI.run(["quantize", input, "-o", out, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try ModelFile.read(path: out).modules.first?.quantization == .perTensor)

        let again = try CLI.run(["quantize", out, "-o", temp.file("q2.h5")])
        #expect(again.status != 0)
        #expect(again.stderr.contains("already quantized (per_tensor); quantize the float model instead"), "\(again.stderr)")
        #expect(temp.entries() == ["q.h5"])
    }

    @Test("--help names every option")
    func help() throws {
        let result = try CLI.run(["quantize", "--help"])
        #expect(result.status == 0)
        for option in ["--output", "--per-channel", "--module", "--force", "--batch-first", "--nonlinearity"] {
            #expect(result.stdout.contains(option), "\(option) missing from help")
        }
    }
}
