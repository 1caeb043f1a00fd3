import Foundation
import RNNFormat
import RNNRuntime
import Testing

/// One fixture call run on weights imported from a PyTorch checkpoint or safetensors file.
struct CheckpointCallRef: Sendable, Hashable, CustomTestStringConvertible {
    /// The checkpoint, relative to fixtures/.
    var file: String
    /// The case directory whose case.json holds the module and its calls.
    var caseDirectory: String
    var moduleIndex: Int
    var callName: String
    var testDescription: String { "\(file)[\(moduleIndex)].\(callName)" }

    /// Every call of the quantized cases, run on the int8 modules of their qmodel.pt.
    static let quantized: [CheckpointCallRef] = {
        guard let data = try? Data(contentsOf: Fixtures.root.appendingPathComponent("index.json")),
              let index = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let cases = index["quant"] as? [String]
        else { return [] }
        return cases.flatMap { directory -> [CheckpointCallRef] in
            guard let fixture = try? Fixtures.loadCase(directory) else { return [] }
            return fixture.allModules.enumerated().flatMap { i, module in
                module.calls.map { CheckpointCallRef(file: directory + "/qmodel.pt", caseDirectory: directory, moduleIndex: i, callName: $0.name) }
            }
        }
    }()

    private struct CheckpointIndex: Decodable {
        struct Entry: Decodable {
            var file: String
            var format: String
            var validate_with: String?
        }
        var checkpoints: [Entry]
    }

    /// model.pt of every float case, and every zip or safetensors entry of checkpoints/ (float16,
    /// bfloat16, float64, non-contiguous views, a nested two-module dict), each with its calls.
    static let all: [CheckpointCallRef] = {
        var refs: [CheckpointCallRef] = []
        func add(file: String, caseDirectory: String) {
            guard let fixture = try? Fixtures.loadCase(caseDirectory) else { return }
            for (i, module) in fixture.allModules.enumerated() {
                for call in module.calls {
                    refs.append(CheckpointCallRef(file: file, caseDirectory: caseDirectory, moduleIndex: i, callName: call.name))
                }
            }
        }
        for directory in (try? Fixtures.index().float) ?? [] {
            add(file: directory + "/model.pt", caseDirectory: directory)
        }
        let url = Fixtures.root.appendingPathComponent("checkpoints/index.json")
        if let data = try? Data(contentsOf: url), let index = try? JSONDecoder().decode(CheckpointIndex.self, from: data) {
            for entry in index.checkpoints where entry.format != "torch-legacy" {
                add(file: "checkpoints/" + entry.file, caseDirectory: entry.validate_with ?? "")
            }
        }
        return refs
    }()
}

@Suite("PyTorch parity of imported checkpoints")
struct CheckpointParityTests {
    /// Max abs difference allowed against PyTorch for float weights (float32 arithmetic).
    static let tolerance: Float = 1e-5

    @Test func callsArePresent() {
        #expect(CheckpointCallRef.all.count >= 120)
        #expect(CheckpointCallRef.all.contains { $0.file.contains("noncontiguous") })
        #expect(CheckpointCallRef.all.contains { $0.file.hasSuffix(".safetensors") })
        #expect(CheckpointCallRef.quantized.count >= 30)
    }

    /// Max abs difference allowed against PyTorch's dynamically quantized modules.
    static let quantizedTolerance: Float = 1e-4

    @Test("imported weights reproduce PyTorch's outputs", arguments: CheckpointCallRef.all)
    func matchesPyTorch(ref: CheckpointCallRef) throws {
        try check(ref, tolerance: Self.tolerance)
    }

    @Test("int8 modules imported from qmodel.pt reproduce PyTorch's quantized outputs", arguments: CheckpointCallRef.quantized)
    func quantizedMatchesPyTorch(ref: CheckpointCallRef) throws {
        try check(ref, tolerance: Self.quantizedTolerance)
    }

    private func check(_ ref: CheckpointCallRef, tolerance: Float) throws {
        let fixture = try Fixtures.loadCase(ref.caseDirectory)
        let module = fixture.allModules[ref.moduleIndex]
        let call = try #require(module.calls.first { $0.name == ref.callName })
        let config = try Fixtures.moduleConfig(module)
        let model = try ModelFile.read(path: Fixtures.root.appendingPathComponent(ref.file).path,
                                       options: InferenceOptions(batchFirst: config.batchFirst, nonlinearity: config.nonlinearity))
        let record = try #require(model.modules.first { $0.path == module.prefix })
        let a = try Fixtures.arrays(ref.caseDirectory, call)
        let result = try AnyModule(record)(a.input, h0: a.h0, c0: a.c0, lengths: a.lengths)
        var worst = maxAbsDifference(result.h, a.hN)
        if let expected = a.output { worst = max(worst, maxAbsDifference(try #require(result.output), expected)) }
        if let expected = a.cN { worst = max(worst, maxAbsDifference(try #require(result.c), expected)) }
        #expect(worst <= tolerance, "max abs diff \(worst)")
        print("checkpoint parity \(ref.testDescription) max_abs_diff=\(worst)")
    }
}
