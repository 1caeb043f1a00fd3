import Foundation
import _RNNKitTestSupport
import RNNRuntime
import Testing
import RNNFormat
import RNNFormatWriter

/// Many tasks loading, running and writing models at once (tools/tsan.sh runs this suite under
/// ThreadSanitizer): every result equals the serial one, every file written reads back equal.
@Suite("Concurrent load, run and write")
struct ConcurrencyStressTests {
    static let tasks = 8
    static let iterations = 200

    /// Small modules of every kind, one file.
    static let configs: [ModuleConfig] = [
        ModuleConfig(kind: .gru, inputSize: 3, hiddenSize: 4, bidirectional: true),
        ModuleConfig(kind: .lstm, inputSize: 3, hiddenSize: 4, numLayers: 2, projSize: 2),
        ModuleConfig(kind: .rnn, inputSize: 3, hiddenSize: 4, nonlinearity: .relu),
        ModuleConfig(kind: .gruCell, inputSize: 3, hiddenSize: 4),
        ModuleConfig(kind: .lstmCell, inputSize: 3, hiddenSize: 4),
        ModuleConfig(kind: .rnnCell, inputSize: 3, hiddenSize: 4),
    ]

    static func input(for config: ModuleConfig, seed: Int) throws -> Tensor {
        let shape = config.kind.isCell ? [2, 3] : [5, 2, 3]
        let count = shape.reduce(1, *)
        return try Tensor(shape: shape, scalars: (0..<count).map { Float((($0 + seed) * 29) % 17) / 17 - 0.5 })
    }

    @Test("8 tasks x 200 iterations of read, run, write and read back agree with the serial results")
    func loadRunWrite() async throws {
        // tmpfs when there is one: the writer fsyncs every file, which on a disk costs more
        // than everything else this test does.
        let temporary = try TemporaryDirectory(inMemory: true)
        let directory = temporary.path

        var generator = SplitMix64(seed: 21)
        let records = try Self.configs.enumerated().map { index, config in
            try ModuleRecord(pytorchDefault: config, path: "m\(index)", using: &generator)
        }
        // One small file per module: each iteration loads one.
        let sources = try records.indices.map { index in
            let path = directory + "/model\(index).h5"
            try ModelFile(modules: [records[index]]).write(to: path, overwrite: false)
            return path
        }
        // The serial answers: each module on each of a few inputs.
        let serial = try records.map { record in
            try (0..<4).map { seed in try AnyModule(record)(Self.input(for: record.config, seed: seed)) }
        }

        let failures = try await withThrowingTaskGroup(of: [String].self) { group in
            for task in 0..<Self.tasks {
                group.addTask {
                    var problems: [String] = []
                    let own = directory + "/task\(task).h5"
                    for iteration in 0..<Self.iterations {
                        let index = (task + iteration) % sources.count
                        let model = try ModelFile.read(path: sources[index])
                        let module = try AnyModule(model.modules[0])
                        let seed = iteration % 4
                        let result = try module(Self.input(for: model.modules[0].config, seed: seed))
                        if result != serial[index][seed] { problems.append("task \(task) iteration \(iteration): module \(index) differs") }
                        try model.write(to: own, overwrite: true)
                        if iteration % 10 == 9, try ModelFile.read(path: own).modules != model.modules {
                            problems.append("task \(task) iteration \(iteration): write/read differs")
                        }
                    }
                    return problems
                }
            }
            var all: [String] = []
            for try await problems in group { all += problems }
            return all
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        let left = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        let expected = (records.indices.map { "model\($0).h5" } + (0..<Self.tasks).map { "task\($0).h5" }).sorted()
        #expect(left == expected, "temporary files left: \(Set(left).subtracting(expected))")
    }

    @Test("one module shared by 8 tasks streaming at once keeps each stream's state apart")
    func sharedModuleStreaming() async throws {
        var generator = SplitMix64(seed: 5)
        let module = try AnyModule(ModuleRecord(pytorchDefault: Self.configs[1], using: &generator))
        let chunks = try (0..<6).map { try Self.input(for: Self.configs[1], seed: $0) }
        var state = module.initialState(batchSize: 2)
        let serial = try chunks.map { try module.step($0, state: &state) }
        let results = try await withThrowingTaskGroup(of: [Tensor].self) { group in
            for _ in 0..<Self.tasks {
                group.addTask {
                    var state = module.initialState(batchSize: 2)
                    var outputs: [Tensor] = []
                    for _ in 0..<20 {
                        state = module.initialState(batchSize: 2)
                        outputs = try chunks.map { try module.step($0, state: &state) }
                    }
                    return outputs
                }
            }
            var all: [[Tensor]] = []
            for try await outputs in group { all.append(outputs) }
            return all
        }
        #expect(results.count == Self.tasks)
        for outputs in results { #expect(outputs == serial) }
    }
}
