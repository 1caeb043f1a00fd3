import Foundation
import _RNNKitTestSupport
import RNNRuntime
import Testing
import RNNFormat
import RNNFormatWriter
import RNNKitTools

/// The quantized cases of `fixtures/quant/`: PyTorch's `quantize_dynamic` weights and its
/// fbgemm outputs against ours.
enum QuantFixtures {
    struct Index: Decodable {
        var quant: [String]
    }

    struct Weight: Decodable {
        var file: String
        var scale: Double
        var zero_point: Int
    }

    struct Section: Decodable {
        var engine: String
        var weights: [String: Weight]
    }

    struct CaseQuant: Decodable {
        var quant: Section
    }

    static var cases: [String] {
        guard let data = try? Data(contentsOf: Fixtures.root.appendingPathComponent("index.json")),
              let index = try? JSONDecoder().decode(Index.self, from: data) else { return [] }
        return index.quant
    }

    static var calls: [Fixtures.CallRef] {
        cases.flatMap { directory -> [Fixtures.CallRef] in
            guard let fixture = try? Fixtures.loadCase(directory) else { return [] }
            return fixture.calls.map { Fixtures.CallRef(caseDirectory: directory, moduleIndex: 0, callName: $0.name) }
        }
    }

    static func section(_ directory: String) throws -> Section {
        try JSONDecoder().decode(CaseQuant.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path(directory, "case.json")))).quant
    }

    /// Every result of `module` on a call's arguments next to PyTorch's expected one.
    static func pairs(_ module: AnyModule, _ a: Fixtures.Arrays) throws -> [(ours: Tensor, expected: Tensor)] {
        let result = try module(a.input, h0: a.h0, c0: a.c0, lengths: a.lengths)
        var pairs: [(Tensor, Tensor)] = [(result.h, a.hN)]
        if let expected = a.output { pairs.append((try #require(result.output), expected)) }
        if let expected = a.cN { pairs.append((try #require(result.c), expected)) }
        return pairs
    }

    /// Max and mean absolute difference over all pairs, and how many elements are equal.
    static func differences(_ pairs: [(ours: Tensor, expected: Tensor)]) -> (max: Float, mean: Double, equal: Int, count: Int) {
        var worst: Float = 0, total: Double = 0, equal = 0, count = 0
        for (ours, expected) in pairs {
            guard ours.shape == expected.shape else { return (.infinity, .infinity, 0, 0) }
            for (x, y) in zip(ours.scalars, expected.scalars) {
                let d = (x - y).magnitude
                worst = max(worst, d)
                total += Double(d)
                equal += x == y ? 1 : 0
                count += 1
            }
        }
        return (worst, total / Double(max(count, 1)), equal, count)
    }
}

@Suite("Quantized modules against PyTorch (fixtures/quant)")
struct QuantizedFixtureTests {
    /// Against PyTorch's fbgemm outputs (float32 throughout); the issue's bounds.
    static let maxTolerance: Float = 1e-4
    static let meanTolerance: Double = 1e-6

    @Test func fixturesArePresent() {
        #expect(QuantFixtures.cases.count >= 7)
        #expect(QuantFixtures.calls.count >= 30)
    }

    @Test("int8 weights, scales and zero points equal quantize_dynamic's", arguments: QuantFixtures.cases)
    func weightsEqualPyTorch(directory: String) throws {
        let fixture = try Fixtures.loadCase(directory)
        let section = try QuantFixtures.section(directory)
        let record = try Fixtures.record(directory, fixture.allModules[0])
        let quantized = try Quantizer().quantize(record, file: directory)
        let ours = quantized.parameters.compactMapValues { p -> QuantizedTensor? in
            if case .quantized(let q) = p { return q } else { return nil }
        }
        #expect(Set(ours.keys) == Set(section.weights.keys))
        var identical = 0, total = 0
        for (name, weight) in section.weights.sorted(by: { $0.key < $1.key }) {
            let q = try #require(ours[name])
            let npy = try NpyArray.read(path: Fixtures.path(directory, weight.file))
            guard case .int8(let values) = npy.values else {
                Issue.record("\(weight.file) is \(npy.values.typeName), expected int8")
                continue
            }
            #expect(npy.shape == q.shape)
            let same = zip(values, q.values).filter { $0 == $1 }.count
            identical += same
            total += values.count
            #expect(same == values.count, "\(name): \(same) of \(values.count) int8 values equal")
            #expect(q.scales == [Float(weight.scale)], "\(name) scale")
            #expect(q.zeroPoints == [Int32(weight.zero_point)])
        }
        print("quant-weights \(directory): \(identical)/\(total) int8 values identical, \(section.weights.count) scales identical")
    }

    @Test("quantized module runs like PyTorch's fbgemm module", arguments: QuantFixtures.calls)
    func matchesPyTorch(ref: Fixtures.CallRef) throws {
        let loaded = try Fixtures.load(ref)
        let quantized = try Quantizer().quantize(loaded.record, file: ref.caseDirectory)
        let d = QuantFixtures.differences(try QuantFixtures.pairs(try AnyModule(quantized), loaded.arrays))
        print("quant-parity \(ref.testDescription) max_abs=\(d.max) mean_abs=\(d.mean) equal=\(d.equal)/\(d.count)")
        #expect(d.max <= Self.maxTolerance, "max abs diff \(d.max)")
        #expect(d.mean <= Self.meanTolerance, "mean abs diff \(d.mean)")
    }

    @Test("a written and re-read quantized file holds the same module and runs the same", arguments: QuantFixtures.cases)
    func fileRoundTrip(directory: String) throws {
        let fixture = try Fixtures.loadCase(directory)
        let source = Fixtures.path(directory, "attrs.h5")
        let result = try ModelQuantization(quantizing: try ModelFile.read(path: source), file: source, steps: 5)
        let temp = try TemporaryDirectory()
        let path = temp.file("q.h5")
        try result.model.write(to: path, overwrite: false)
        let reread = try ModelFile.read(path: path)
        #expect(reread.modules == result.model.modules)
        let call = try #require(fixture.calls.first)
        let arrays = try Fixtures.arrays(directory, call)
        let module = try AnyModule(try #require(reread.modules.first))
        let d = QuantFixtures.differences(try QuantFixtures.pairs(module, arrays))
        #expect(d.max <= Self.maxTolerance && d.mean <= Self.meanTolerance, "max \(d.max) mean \(d.mean)")
    }

    /// Mean abs error against the float module over every call of a case.
    static func outputError(_ record: ModuleRecord, _ scheme: QuantizedTensor.Scheme, _ fixture: Fixtures.Case, _ directory: String) throws -> (max: Float, mean: Double) {
        let float = try AnyModule(record)
        let quantized = try AnyModule(try Quantizer(scheme: scheme).quantize(record, file: directory))
        var pairs: [(ours: Tensor, expected: Tensor)] = []
        for call in fixture.calls {
            var a = try Fixtures.arrays(directory, call)
            let exact = try float(a.input, h0: a.h0, c0: a.c0, lengths: a.lengths)
            (a.output, a.hN, a.cN) = (exact.output, exact.h, exact.c)
            pairs += try QuantFixtures.pairs(quantized, a)
        }
        let d = QuantFixtures.differences(pairs)
        return (d.max, d.mean)
    }

    /// Outputs against the float module, on the fixtures' calls. With PyTorch's default
    /// initialisation every row's largest weight is within a few percent of the matrix's, so the
    /// two schemes differ by rounding noise (measured: per-channel up to 1.7% worse on 3 of the 7
    /// cases, better on 4); hence the 5% slack. Trained weights differ from row to row, which
    /// `perChannelHelpsUnevenRows` checks without slack.
    @Test("per-channel outputs are as close to float as per-tensor (tolerance: 5% of the per-tensor error)", arguments: QuantFixtures.cases)
    func perChannelOutputs(directory: String) throws {
        let fixture = try Fixtures.loadCase(directory)
        let record = try Fixtures.record(directory, fixture.allModules[0])
        let t = try Self.outputError(record, .perTensor, fixture, directory)
        let c = try Self.outputError(record, .perChannel, fixture, directory)
        print("quant-vs-float \(directory): per_tensor max=\(t.max) mean=\(t.mean); per_channel max=\(c.max) mean=\(c.mean)")
        #expect(c.mean <= 1.05 * t.mean, "per-channel mean abs error \(c.mean), per-tensor \(t.mean)")
    }

    /// Rows scaled by factors in [0.05, 1] (gates of trained models differ in magnitude):
    /// per-tensor spends its range on the largest rows, per-channel keeps every row's precision.
    @Test("per-channel is clearly closer to float when rows differ in magnitude", arguments: QuantFixtures.cases)
    func perChannelHelpsUnevenRows(directory: String) throws {
        let fixture = try Fixtures.loadCase(directory)
        var record = try Fixtures.record(directory, fixture.allModules[0])
        var generator = SplitMix64(seed: 9)
        for spec in record.config.expectedParameters where spec.role.isWeight {
            var w = try #require(record.parameters[spec.name]).floatValue
            let columns = spec.shape[1]
            for r in 0..<spec.shape[0] {
                let factor = Float.random(in: 0.05...1, using: &generator)
                for c in 0..<columns { w[flat: r * columns + c] *= factor }
            }
            record.parameters[spec.name] = .float(w, stored: .float32)
        }
        let t = try Self.outputError(record, .perTensor, fixture, directory)
        let c = try Self.outputError(record, .perChannel, fixture, directory)
        print("quant-uneven-rows \(directory): per_tensor mean=\(t.mean); per_channel mean=\(c.mean)")
        #expect(c.mean < t.mean, "per-channel mean abs error \(c.mean) >= per-tensor \(t.mean)")
    }

    static let sizeConfigs: [ModuleConfig] = [
        ModuleConfig(kind: .gru, inputSize: 40, hiddenSize: 128, numLayers: 2),
        ModuleConfig(kind: .lstm, inputSize: 32, hiddenSize: 128, bidirectional: true),
        ModuleConfig(kind: .lstm, inputSize: 64, hiddenSize: 128, projSize: 64),
        ModuleConfig(kind: .gruCell, inputSize: 32, hiddenSize: 128),
        ModuleConfig(kind: .rnnCell, inputSize: 64, hiddenSize: 256),
    ]

    @Test("a quantized file is at most 30% of its float32 file for hidden sizes >= 128", arguments: sizeConfigs)
    func fileSize(config: ModuleConfig) throws {
        var generator = SplitMix64(seed: 42)
        let record = try ModuleRecord(pytorchDefault: config, path: "model.rnn", using: &generator)
        let float = ModelFile(modules: [record])
        let quantized = try Quantizer().quantize(float, modules: nil, file: "memory").model
        let temp = try TemporaryDirectory()
        let floatPath = temp.file("float.h5")
        let quantPath = temp.file("int8.h5")
        try float.write(to: floatPath, overwrite: false)
        try quantized.write(to: quantPath, overwrite: false)
        func size(_ path: String) throws -> Int {
            try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        }
        let ratio = Double(try size(quantPath)) / Double(try size(floatPath))
        print("quant-size \(config.kind.rawValue) H=\(config.hiddenSize): \(try size(floatPath)) -> \(try size(quantPath)) bytes, ratio \(ratio)")
        #expect(ratio <= 0.30, "ratio \(ratio)")
    }
}
