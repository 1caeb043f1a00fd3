import Foundation
@testable import RNNRuntime
import Testing
import RNNFormat

/// Int8 modules reproduce PyTorch's quantized modules bit for bit when the element-wise math
/// mirrors the CPU capability the fixtures were made with (case.json "quant.cpu_capability").
@Suite struct BitExactnessTests {
    struct QuantCapability: Decodable {
        struct Section: Decodable { var cpu_capability: String? }
        var quant: Section
    }

    static func capability(_ directory: String) throws -> PyTorchCPUCapability {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(directory, "case.json")))
        let name = try JSONDecoder().decode(QuantCapability.self, from: data).quant.cpu_capability ?? "avx2"
        return try #require(PyTorchCPUCapability(rawValue: name.lowercased()), "unknown capability \(name)")
    }

    @Test("int8 outputs equal PyTorch's quantized modules exactly", arguments: QuantFixtures.calls)
    func int8IsBitIdentical(ref: Fixtures.CallRef) throws {
        let loaded = try Fixtures.load(ref)
        let module = try AnyModule(try Quantizer().quantize(loaded.record, file: ref.caseDirectory))
        let pairs = try PyTorchCPUCapability.$current.withValue(try Self.capability(ref.caseDirectory)) {
            try QuantFixtures.pairs(module, loaded.arrays)
        }
        for (ours, expected) in pairs {
            #expect(ours.shape == expected.shape)
            let differing = zip(ours.scalars, expected.scalars).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "\(differing) of \(expected.count) elements differ from PyTorch")
        }
    }

    /// The detected capability follows PyTorch's rule on this CPU unless ATEN_CPU_CAPABILITY says otherwise.
    @Test func detectedCapabilityHasABlockPyTorchUses() {
        #expect([0, 16, 32].contains(PyTorchCPUCapability.detected.sigmoidBlock))
        if ProcessInfo.processInfo.environment["ATEN_CPU_CAPABILITY"] == nil, KernelISA.best == .avx512 {
            #expect(PyTorchCPUCapability.detected == .avx512)
        }
    }
}
