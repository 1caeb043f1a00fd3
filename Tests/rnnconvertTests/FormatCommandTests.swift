import Foundation
import RNNFormat
import Testing
import _RNNKitTestSupport
@testable import RNNFormatWriter
import RNNKitTools

/// inspect, import and verify, run as the built binary.
@Suite("rnnconvert inspect / import / verify")
struct FormatCommandTests {
    static let hostile = CLI.repositoryRoot + "/fixtures/hostile/hdf5"
    /// A bare h5py dump with a GRU at /rnn (tools/make_hostile_hdf5.py).
    static let bareDump = hostile + "/bare_flat_names.h5"
    static let reference = hostile + "/reference.h5"

    /// Expects failure: non-zero status, nothing but one `error: ` line on stderr.
    func expectOneErrorLine(_ result: CLI.Result, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 1, sourceLocation: sourceLocation)
        #expect(result.stderrLines.count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.hasPrefix("error: "), sourceLocation: sourceLocation)
        #expect(result.stderr.contains(text), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    }

    @Test("the binary is built next to the tests")
    func binaryExists() {
        #expect(CLI.binary != nil)
    }

    @Test("inspect prints each module's layout, dtype, quantization, counts and the leftovers")
    func inspectText() throws {
        let result = try CLI.run(["inspect", Self.reference])
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        for line in ["format: rnnkit 1.0 (producer: make_hostile_hdf5.py)", "  rnn  [HDF5 group /rnn]", "    kind: GRU",
                     "    input_size: 3, hidden_size: 2, layers: 1, directions: 1, proj_size: 0",
                     "    dtype: float32, quantization: none", "    parameters: 42 (168 bytes)", "leftovers (not RNN parameters): 0"] {
            #expect(result.stdout.contains(line + "\n"), "missing line: \(line)\n\(result.stdout)")
        }
    }

    @Test("inspect names the container of checkpoints and safetensors files and their keys, not an HDF5 group")
    func inspectCheckpoints() throws {
        for (file, container) in [("model.pt", "torch.save"), ("model.safetensors", "safetensors")] {
            let result = try CLI.run(["inspect", CLI.repositoryRoot + "/fixtures/float/gru_bi_2l/" + file])
            #expect(result.status == 0)
            #expect(result.stdout.contains("format: \(container) file, no RNNKit metadata"), "\(result.stdout)")
            #expect(result.stdout.contains("  model.encoder  [keys model.encoder.*]\n"), "\(result.stdout)")
            let json = try CLI.run(["inspect", "--json", CLI.repositoryRoot + "/fixtures/float/gru_bi_2l/" + file])
            let summary = try JSONDecoder().decode(ModelSummary.self, from: Data(json.stdout.utf8))
            #expect(summary.source.rawValue == container)
        }
    }

    @Test("inspect --json is one JSON object with the same facts")
    func inspectJSON() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("q.h5")
        let config = ModuleConfig(kind: .lstm, inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, projSize: 2)
        var parameters: [String: Parameter] = [:]
        for spec in config.expectedParameters {
            if spec.role.isWeight {
                parameters[spec.name] = .quantized(try QuantizedTensor(shape: spec.shape, values: .init(repeating: 3, count: spec.elementCount),
                                                                   scales: .init(repeating: 0.5, count: spec.shape[0]), zeroPoints: .init(repeating: 0, count: spec.shape[0])))
            } else {
                parameters[spec.name] = .float(try Tensor(zeros: spec.shape), stored: .float32)
            }
        }
        let module = ModuleRecord(path: "model.lstm", config: config, parameters: parameters)
        try ModelFile(metadata: FileMetadata(producer: "p", user: ["k": "v"]), modules: [module]).write(to: path, overwrite: false)

        let result = try CLI.run(["inspect", "--json", path])
        #expect(result.status == 0)
        let summary = try JSONDecoder().decode(ModelSummary.self, from: Data(result.stdout.utf8))
        #expect(summary == ModelSummary(try ModelFile.read(path: path), source: .hdf5))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let modules = try #require(json["modules"] as? [[String: Any]])
        #expect(modules.count == 1)
        #expect(modules[0]["path"] as? String == "model.lstm")
        #expect(modules[0]["group"] as? String == "/model/lstm")
        #expect(modules[0]["kind"] as? String == "LSTM")
        #expect(modules[0]["proj_size"] as? Int == 2)
        #expect(modules[0]["directions"] as? Int == 2)
        #expect(modules[0]["quantization"] as? String == "per_channel")
        #expect(modules[0]["dtype"] as? String == "int8+float32")
        #expect(modules[0]["parameter_count"] as? Int == config.parameterCount)
        #expect(json["format_version"] as? String == "1.0")
        #expect(json["user"] as? [String: String] == ["k": "v"])
    }

    @Test("import writes a canonical file from a bare dump, reports leftovers, applies the flags")
    func importBareDump() throws {
        let directory = try TemporaryDirectory()
        let out = directory.file("out.h5")
        let result = try CLI.run(["import", Self.bareDump, "-o", out, "--batch-first"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("  rnn -> /rnn: GRU input 3, hidden 2, 1 layer(s), 1 direction(s), float32\n"))
        #expect(result.stdout.contains("left out (not RNN parameters): 0\n"))
        let written = try ModelFile.read(path: out)
        let source = try ModelFile.read(path: Self.bareDump, options: InferenceOptions(batchFirst: true))
        #expect(written.modules == source.modules)
        #expect(written.modules.first?.config.batchFirst == true)
        #expect(written.metadata.formatVersion == FileMetadata.currentVersion)
        #expect(directory.entries() == ["out.h5"])
    }

    @Test("import lists the leftovers it leaves out")
    func importLeftovers() throws {
        let directory = try TemporaryDirectory()
        let out = directory.file("out.h5")
        let result = try CLI.run(["import", Self.hostile + "/bare_with_leftovers.h5", "-o", out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("left out (not RNN parameters): 3\n  /head/steps\n  /head/weight\n  /model/embed/weight\n"))
        let written = try ModelFile.read(path: out)
        #expect(written.modules.map(\.path) == ["model.rnn"])
        #expect(written.leftovers.isEmpty, "leftovers are not written")
    }

    @Test("import refuses an existing output without --force, replaces it with --force")
    func importOverwrite() throws {
        let directory = try TemporaryDirectory()
        let out = directory.file("out.h5")
        try Data("keep".utf8).write(to: URL(fileURLWithPath: out))
        let refused = try CLI.run(["import", Self.reference, "-o", out])
        expectOneErrorLine(refused, containing: "\(out): output exists")
        #expect(FileManager.default.contents(atPath: out) == Data("keep".utf8))
        let forced = try CLI.run(["import", Self.reference, "-o", out, "--force"])
        #expect(forced.status == 0)
        #expect(try ModelFile.read(path: out).modules.count == 1)
        #expect(directory.entries() == ["out.h5"])
    }

    @Test("import of a hostile source fails with one line and leaves no output")
    func importHostile() throws {
        let directory = try TemporaryDirectory()
        let out = directory.file("out.h5")
        let result = try CLI.run(["import", Self.hostile + "/external_storage.h5", "-o", out])
        expectOneErrorLine(result, containing: "/rnn/weight_ih_l0: external storage refused")
        #expect(directory.entries().isEmpty)
    }

    @Test("verify reports each checksum mismatch by path and fails")
    func verifyFlippedBytes() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("model.h5")
        #expect(try CLI.run(["import", Self.reference, "-o", path]).status == 0)
        let ok = try CLI.run(["verify", path])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("4 tensor(s) match their sha256"))

        // Flip one byte inside the stored values of two tensors (contiguous float32 data).
        let model = try ModelFile.read(path: path)
        var bytes = try #require(FileManager.default.contents(atPath: path))
        for name in ["weight_hh_l0", "bias_ih_l0"] {
            let values = try #require(model.modules.first?.parameters[name]?.floatValue.scalars)
            let pattern = Data(values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) })
            let range = try #require(bytes.range(of: pattern), "data of \(name) not found")
            bytes[range.lowerBound + 2] ^= 0x01
        }
        try bytes.write(to: URL(fileURLWithPath: path))

        let result = try CLI.run(["verify", path])
        #expect(result.stdout.contains("checksum mismatch in /rnn/weight_hh_l0\n"))
        #expect(result.stdout.contains("checksum mismatch in /rnn/bias_ih_l0\n"))
        expectOneErrorLine(result, containing: "2 tensor(s) do not match their sha256")
        expectOneErrorLine(try CLI.run(["inspect", path]), containing: "checksum mismatch")
    }

    @Test("verify of a dump without checksums passes, unless checksums are required")
    func verifyUnchecked() throws {
        let plain = try CLI.run(["verify", Self.reference])
        #expect(plain.status == 0)
        #expect(plain.stdout.contains("0 tensor(s) match their sha256, 4 without checksum"))
        expectOneErrorLine(try CLI.run(["verify", "--require-checksums", Self.reference]), containing: "no sha256 attribute")
    }

    @Test("failures print exactly one error line and exit 1", arguments: [
        (["inspect", "/nonexistent/model.h5"], "/nonexistent/model.h5: cannot open"),
        (["inspect", hostile + "/not_hdf5.h5"], "not an HDF5 file"),
        (["inspect", hostile + "/empty.h5"], "empty file"),
        (["verify", hostile + "/soft_link.h5"], "soft link refused"),
        (["inspect", hostile + "/newer_major.h5"], "format version 2.0"),
        (["inspect", "--json", hostile + "/nan.h5"], "expected finite values"),
    ])
    func failures(arguments: [String], message: String) throws {
        expectOneErrorLine(try CLI.run(arguments), containing: message)
    }
}
