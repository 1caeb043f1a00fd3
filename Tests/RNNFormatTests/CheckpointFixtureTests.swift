import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport

/// An entry of fixtures/checkpoints/index.json.
struct CheckpointEntry: Sendable, CustomStringConvertible {
    var name: String
    var path: String
    var format: String
    var dtype: ElementType
    var modules: [Fixtures.Module]
    var extraKeys: [String]
    var validateWith: String?
    var description: String { name }

    static let all: [CheckpointEntry] = {
        let root = Fixtures.root + "/checkpoints"
        guard let data = FileManager.default.contents(atPath: root + "/index.json"),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let entries = json["checkpoints"] as? [[String: Any]]
        else { return [] }
        return entries.compactMap { e in
            guard let name = e["name"] as? String, let file = e["file"] as? String, let format = e["format"] as? String,
                  let dtype = (e["dtype"] as? String).flatMap(ElementType.init(rawValue:)), let modules = e["modules"] as? [[String: Any]]
            else { return nil }
            return CheckpointEntry(name: name, path: root + "/" + file, format: format, dtype: dtype,
                                   modules: modules.compactMap(fixtureModule), extraKeys: e["extra_keys"] as? [String] ?? [],
                                   validateWith: e["validate_with"] as? String)
        }
    }()
}

/// A module description (`prefix`, `module`, `config`) as the fixtures write it.
func fixtureModule(_ m: [String: Any]) -> Fixtures.Module? {
    guard let prefix = m["prefix"] as? String, let kind = (m["module"] as? String).flatMap(ModuleKind.init(rawValue:)),
          let c = m["config"] as? [String: Any], let input = c["input_size"] as? Int, let hidden = c["hidden_size"] as? Int
    else { return nil }
    return Fixtures.Module(prefix: prefix, config: ModuleConfig(
        kind: kind, inputSize: input, hiddenSize: hidden, numLayers: c["num_layers"] as? Int ?? 1, bias: c["bias"] as? Bool ?? true,
        batchFirst: c["batch_first"] as? Bool ?? false, dropout: c["dropout"] as? Double ?? 0,
        bidirectional: c["bidirectional"] as? Bool ?? false, projSize: c["proj_size"] as? Int ?? 0,
        nonlinearity: Nonlinearity(rawValue: c["nonlinearity"] as? String ?? "tanh") ?? .tanh))
}

/// The options a reader must be given for what a state_dict does not record.
private func options(for modules: [Fixtures.Module]) -> InferenceOptions {
    InferenceOptions(batchFirst: modules[0].config.batchFirst, nonlinearity: modules[0].config.nonlinearity)
}

/// Configurations as a state_dict can give them: dropout is not recorded.
private func importable(_ modules: [Fixtures.Module]) -> [String: ModuleConfig] {
    Dictionary(uniqueKeysWithValues: modules.map { m in
        var c = m.config
        c.dropout = 0
        return (m.prefix, c)
    })
}

/// `parameters` with every float tensor as float32 values (exact comparison).
private func values(_ model: ModelFile) -> [String: [String: Tensor]] {
    Dictionary(uniqueKeysWithValues: model.modules.map { ($0.path, $0.parameters.mapValues(\.floatValue)) })
}

@Suite("Importing the PyTorch fixtures' checkpoints and safetensors files")
struct CheckpointFixtureTests {
    static let floatCases = Fixtures.cases.filter { $0.directory.contains("/float/") }
    static let quantCases = Fixtures.cases.filter { $0.directory.contains("/quant/") }

    @Test("fixtures are present")
    func present() {
        #expect(Self.floatCases.count >= 15)
        #expect(Self.quantCases.count >= 5)
        #expect(CheckpointEntry.all.count >= 9)
    }

    @Test("model.pt, train.pt and model.safetensors: config as PyTorch's, tensors equal to dump.h5, extras left over",
          arguments: floatCases + quantCases)
    func floatCheckpoints(_ fixture: Fixtures.Case) throws {
        let opts = options(for: fixture.modules)
        let dump = try ModelFile.read(path: try #require(fixture.file("dump")), options: opts)
        for key in ["pt", "safetensors", "train_pt"] {
            guard let path = fixture.file(key) else { continue }
            let model = try ModelFile.read(path: path, options: opts)
            #expect(Dictionary(uniqueKeysWithValues: model.modules.map { ($0.path, $0.config) }) == importable(fixture.modules), "\(key)")
            #expect(values(model) == values(dump), "\(key): tensors differ from dump.h5")
            #expect(model.modules.allSatisfy { $0.parameters.values.allSatisfy { $0.storedType == fixture.dtype } }, "\(key)")
            if key == "train_pt" {
                // {"epoch", "model": state_dict, "optimizer": SGD state}: momentum buffers are left over.
                let optimizer = model.leftovers.filter { $0.hasPrefix("optimizer.state.") }
                #expect(Set(model.leftovers) == Set(fixture.extraKeys + optimizer))
                #expect(!optimizer.isEmpty && optimizer.allSatisfy { $0.hasSuffix(".momentum_buffer") })
            } else {
                #expect(model.leftovers == fixture.extraKeys.sorted(), "\(key)")
            }
        }
    }

    @Test("qmodel.pt: PyTorch's exact int8 weights, scales and zero points, float biases, config as PyTorch's",
          arguments: quantCases)
    func quantizedCheckpoints(_ fixture: Fixtures.Case) throws {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture.directory + "/case.json"))) as? [String: Any])
        let quant = try #require(json["quant"] as? [String: Any])
        let weights = try #require(quant["weights"] as? [String: [String: Any]])
        let opts = options(for: fixture.modules)
        let model = try ModelFile.read(path: fixture.directory + "/" + (quant["qmodel_pt"] as? String ?? "qmodel.pt"), options: opts)
        let float = try ModelFile.read(path: try #require(fixture.file("dump")), options: opts)
        #expect(Dictionary(uniqueKeysWithValues: model.modules.map { ($0.path, $0.config) }) == importable(fixture.modules))
        #expect(model.leftovers == fixture.extraKeys.sorted())
        let module = try #require(model.modules.first { $0.path == fixture.modules[0].prefix })
        let reference = try #require(float.modules.first { $0.path == fixture.modules[0].prefix })
        #expect(module.quantization == .perTensor)
        #expect(Set(weights.keys) == Set(module.config.expectedParameters.filter(\.role.isWeight).map(\.name)))
        for spec in module.config.expectedParameters {
            let parameter = try #require(module.parameters[spec.name])
            let original = try #require(reference.parameters[spec.name]).floatValue
            if spec.role.isWeight {
                guard case .quantized(let q) = parameter else {
                    Issue.record("\(spec.name) is not int8")
                    continue
                }
                let expected = try #require(weights[spec.name])
                let scale = Float(try #require(expected["scale"] as? Double))
                #expect(q.scales == [scale], "\(spec.name): scale")
                #expect(q.zeroPoints == [Int32(try #require(expected["zero_point"] as? Int))], "\(spec.name): zero point")
                let npy = try NpyArray.read(path: fixture.directory + "/" + (try #require(expected["file"] as? String)))
                #expect(npy.shape == q.shape, "\(spec.name): shape")
                #expect(npy.values == .int8(q.values), "\(spec.name): int8 values differ from PyTorch's")
                // PyTorch rounds each weight to the nearest step: within half a scale (plus float rounding).
                let worst = zip(q.dequantized().scalars, original.scalars).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= scale * 0.5001, "\(spec.name): dequantized weights off by \(worst), scale \(scale)")
            } else {
                #expect(parameter == .float(original, stored: .float32), "\(spec.name): biases stay PyTorch's float32")
            }
        }
    }

    @Test("checkpoints/: dtypes, non-contiguous views, nested dicts; legacy files named as such", arguments: CheckpointEntry.all)
    func checkpoints(_ entry: CheckpointEntry) throws {
        if entry.format == "torch-legacy" {
            let error = #expect(throws: RNNFormatError.self) { try ModelFile.read(path: entry.path) }
            #expect(error?.code == .unsupportedVersion)
            #expect(error?.message.contains("legacy (non-zip) torch.save format is unsupported; re-save with a current torch.save") == true)
            return
        }
        let model = try ModelFile.read(path: entry.path, options: options(for: entry.modules))
        #expect(Dictionary(uniqueKeysWithValues: model.modules.map { ($0.path, $0.config) }) == importable(entry.modules))
        #expect(model.leftovers == entry.extraKeys.sorted())
        #expect(model.modules.allSatisfy { $0.parameters.values.allSatisfy { $0.storedType == entry.dtype } })
        if let validate = entry.validateWith, let dump = Fixtures.cases.first(where: { $0.directory.hasSuffix("/" + validate) })?.file("dump") {
            #expect(values(model) == values(try ModelFile.read(path: dump, options: options(for: entry.modules))))
        }
        // The same tensors saved by torch.save and by safetensors decode to the same values.
        if entry.format == "torch-zip", FileManager.default.fileExists(atPath: entry.path.replacingOccurrences(of: "model.pt", with: "model.safetensors")),
           entry.path.hasSuffix("/model.pt") {
            let other = try ModelFile.read(path: entry.path.replacingOccurrences(of: "model.pt", with: "model.safetensors"), options: options(for: entry.modules))
            #expect(other.modules == model.modules)
        }
    }

    @Test("verify: a checkpoint's storages are checked by CRC-32, a damaged one is reported; safetensors has no checksum")
    func verify() throws {
        let fixture = try #require(Self.floatCases.first { $0.name == "gru_bi_2l" })
        let report = try ModelFile.verify(path: try #require(fixture.file("pt")))
        #expect(report.isIntact)
        #expect(report.checked.count == 16 + fixture.extraKeys.count && report.checksum == .crc32)
        let safetensors = try ModelFile.verify(path: try #require(fixture.file("safetensors")))
        #expect(safetensors.isIntact && safetensors.checked.isEmpty && safetensors.unchecked.count == 16 && safetensors.checksum == .none)

        // Damage one byte of the first storage's data (the archive's data/0 member, the embedding:
        // a leftover, whose bytes importing never reads, but verifying does).
        let source = try #require(fixture.file("pt"))
        let archive = try ZipArchive(file: try ByteSource(path: source))
        let member = try #require(archive.entries.first { $0.name.hasSuffix("/data/0") })
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: source)))
        bytes[member.dataOffset] ^= 0x01
        let dir = try TemporaryDirectory()
        let damaged = dir.file("damaged.pt")
        #expect(FileManager.default.createFile(atPath: damaged, contents: Data(bytes)))
        #expect(try ModelFile.read(path: damaged).modules.count == 1)
        let broken = try ModelFile.verify(path: damaged)
        #expect(!broken.isIntact)
        #expect(broken.mismatches.map(\.code) == [.checksumMismatch])
        #expect(broken.mismatches.first?.object?.hasSuffix("/data/0") == true)
    }
}
