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

    /// ATen's rule (aten/src/ATen/native/DispatchStub.cpp with cpuinfo), read independently of
    /// our CPUID probe from the kernel's flags: AVX-512 needs avx512vl, avx512bw, avx512dq and
    /// FMA; AVX2 needs avx2 and FMA; otherwise the default build. Linux x86-64 only (the flags
    /// come from /proc/cpuinfo); elsewhere nil.
    static func atenCapabilityFromCPUInfo() -> PyTorchCPUCapability? {
        #if os(Linux) && arch(x86_64)
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(line.split(separator: " ").map(String.init))
        if flags.isSuperset(of: ["avx512vl", "avx512bw", "avx512dq", "fma"]) { return .avx512 }
        if flags.isSuperset(of: ["avx2", "fma"]) { return .avx2 }
        return .default
        #else
        return nil
        #endif
    }

    /// Without ATEN_CPU_CAPABILITY, the capability the runtime mirrors is the one ATen picks on
    /// this CPU; with it, the one it names.
    @Test func detectedCapabilityIsTheOnePyTorchPicks() throws {
        if let forced = ProcessInfo.processInfo.environment["ATEN_CPU_CAPABILITY"]?.lowercased(),
           let named = PyTorchCPUCapability(rawValue: forced) {
            #expect(PyTorchCPUCapability.detected == named)
            return
        }
        #if os(Linux) && arch(x86_64)
        let expected = try #require(Self.atenCapabilityFromCPUInfo(), "no flags line in /proc/cpuinfo")
        #expect(PyTorchCPUCapability.detected == expected)
        #else
        // arm64 and other builds: ATen's vectorised sigmoid has no wider block than the default.
        #expect(PyTorchCPUCapability.detected == .default)
        #endif
    }
}
