import Foundation
import RNNFormat
import Testing
import _RNNKitTestSupport

/// `rnnconvert run` end to end: the built binary on the PyTorch fixtures.
@Suite("rnnconvert run")
struct RunCommandTests {
    static let fixtures = URL(fileURLWithPath: CLI.repositoryRoot).appendingPathComponent("fixtures")

    struct Call: Sendable, CustomTestStringConvertible {
        var caseName: String
        var module: String?
        var call: String
        var testDescription: String { "\(caseName)\(module.map { "/" + $0 } ?? "").\(call)" }
    }

    /// One call of every kind and option: packed with h0, unbatched, leading, batch_first, cells, projection.
    static let calls: [Call] = [
        Call(caseName: "gru_bi_2l", call: "packed_h0"),
        Call(caseName: "lstm_proj_bi_2l", call: "leading"),
        Call(caseName: "lstm_batch_first", call: "packed"),
        Call(caseName: "rnn_tanh", call: "unbatched_h0"),
        Call(caseName: "lstm_cell", call: "leading_state"),
        Call(caseName: "gru_cell", call: "unbatched"),
        Call(caseName: "two_modules", module: "decoder", call: "h0"),
    ]

    /// The file names of one call in `case.json` (fixtures/README.md).
    struct CaseFile: Decodable {
        struct Module: Decodable {
            var prefix: String
            var calls: [[String: FileName]]
        }
        struct FileName: Decodable {
            var value: String?
            init(from decoder: any Decoder) throws {
                value = try? decoder.singleValueContainer().decode(String.self)
            }
        }
        var prefix: String
        var calls: [[String: FileName]]
        var modules: [Module]?

        func files(module: String?, call: String) -> [String: String]? {
            let calls = module.flatMap { name in modules?.first { $0.prefix == name }?.calls } ?? self.calls
            guard let entry = calls.first(where: { $0["name"]?.value == call }) else { return nil }
            return entry.compactMapValues(\.value)
        }
    }

    @Test(arguments: calls)
    func writesPyTorchsResults(call: Call) throws {
        let caseDirectory = Self.fixtures.appendingPathComponent("float").appendingPathComponent(call.caseName)
        let caseFile = try JSONDecoder().decode(CaseFile.self, from: Data(contentsOf: caseDirectory.appendingPathComponent("case.json")))
        let files = try #require(caseFile.files(module: call.module, call: call.call))
        func fixture(_ field: String) -> String? { files[field].map { caseDirectory.appendingPathComponent($0).path } }
        let scratch = try TemporaryDirectory()
        let out = URL(fileURLWithPath: scratch.path)

        var arguments = ["run", caseDirectory.appendingPathComponent("attrs.h5").path, "--input", try #require(fixture("input")), "--out", out.path]
        if let module = call.module { arguments += ["--module", module] }
        for option in ["h0", "c0", "lengths"] {
            if let path = fixture(option) { arguments += ["--\(option)", path] }
        }
        let result = try CLI.run(arguments)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)

        var written = Set(try FileManager.default.contentsOfDirectory(atPath: out.path))
        for field in ["output", "h_n", "c_n"] {
            let name = "\(field).npy"
            guard let expectedPath = fixture(field) else {
                #expect(!written.contains(name), "\(name) written for a module without it")
                continue
            }
            written.remove(name)
            let array = try NpyArray.read(path: out.appendingPathComponent(name).path)
            let expected = try NpyArray.readFloatTensor(path: expectedPath)
            guard case .float32(let values) = array.values else {
                Issue.record("\(name) is \(array.values.typeName), expected float32")
                continue
            }
            #expect(array.shape == expected.shape)
            let worst = zip(values, expected.scalars).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            #expect(worst <= 1e-5, "\(name): max abs diff \(worst)")
        }
        #expect(written.isEmpty, "unexpected files \(written)")
    }

    struct Failure: Sendable, CustomTestStringConvertible {
        var name: String
        var arguments: @Sendable (URL, URL) -> [String]  // (fixtures/float, scratch dir) -> arguments
        var mentions: String
        var testDescription: String { name }
    }

    static let failures: [Failure] = [
        Failure(name: "several modules, no --module", arguments: { f, o in
            ["run", f.appendingPathComponent("two_modules/attrs.h5").path, "--input", f.appendingPathComponent("two_modules/encoder.batched.input.npy").path, "--out", o.path]
        }, mentions: "choose one by its prefix"),
        Failure(name: "unknown module", arguments: { f, o in
            ["run", f.appendingPathComponent("two_modules/attrs.h5").path, "--module", "nope", "--input", f.appendingPathComponent("two_modules/encoder.batched.input.npy").path, "--out", o.path]
        }, mentions: "no module at prefix \"nope\""),
        Failure(name: "input of the wrong width", arguments: { f, o in
            ["run", f.appendingPathComponent("two_modules/attrs.h5").path, "--module", "decoder", "--input", f.appendingPathComponent("two_modules/encoder.batched.input.npy").path, "--out", o.path]
        }, mentions: "input: expected shape (T, 7), (T, B, 7) or (V, T, B, 7) with sizes >= 1, found (6, 3, 5)"),
        Failure(name: "float lengths", arguments: { f, o in
            ["run", f.appendingPathComponent("gru/attrs.h5").path, "--input", f.appendingPathComponent("gru/packed.input.npy").path, "--lengths", f.appendingPathComponent("gru/packed.input.npy").path, "--out", o.path]
        }, mentions: "expected an int64 array"),
        Failure(name: "integer input", arguments: { f, o in
            ["run", f.appendingPathComponent("gru/attrs.h5").path, "--input", f.appendingPathComponent("gru/packed.lengths.npy").path, "--out", o.path]
        }, mentions: "expected a float32 array"),
        Failure(name: "missing input file", arguments: { f, o in
            ["run", f.appendingPathComponent("gru/attrs.h5").path, "--input", o.appendingPathComponent("absent.npy").path, "--out", o.path]
        }, mentions: "absent.npy: no such file"),
        Failure(name: "not an npy file", arguments: { f, o in
            ["run", f.appendingPathComponent("gru/attrs.h5").path, "--input", f.appendingPathComponent("gru/case.json").path, "--out", o.path]
        }, mentions: "not a .npy file"),
        Failure(name: "h0 of the wrong shape", arguments: { f, o in
            ["run", f.appendingPathComponent("gru/attrs.h5").path, "--input", f.appendingPathComponent("gru/batched.input.npy").path, "--h0", f.appendingPathComponent("gru/unbatched_h0.h0.npy").path, "--out", o.path]
        }, mentions: "h0: expected shape (1, 3, 7), found (1, 7)"),
    ]

    @Test(arguments: failures)
    func failsWithOneErrorLine(failure: Failure) throws {
        let scratch = try TemporaryDirectory()
        let out = URL(fileURLWithPath: scratch.path)
        let result = try CLI.run(failure.arguments(Self.fixtures.appendingPathComponent("float"), out))
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("error: "))
        #expect(result.stderr.contains(failure.mentions), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).allSatisfy { !$0.hasSuffix(".npy") || $0 == "absent.npy" })
    }
}
