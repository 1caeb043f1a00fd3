import Foundation
import _RNNKitTestSupport
import RNNRuntime
import Testing
import RNNFormat
import RNNFormatWriter

/// Modules created in code: PyTorch's default initialisation, reproducible from a seed, and
/// saved and reloaded through their `ModuleRecord`.
@Suite("Initialization")
struct InitializationTests {
    static let configs: [ModuleConfig] = [
        ModuleConfig(kind: .gru, inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true),
        ModuleConfig(kind: .lstm, inputSize: 3, hiddenSize: 9, batchFirst: true, projSize: 2),
        ModuleConfig(kind: .rnn, inputSize: 3, hiddenSize: 16, bias: false, nonlinearity: .relu),
        ModuleConfig(kind: .gruCell, inputSize: 3, hiddenSize: 4),
        ModuleConfig(kind: .lstmCell, inputSize: 3, hiddenSize: 4),
        ModuleConfig(kind: .rnnCell, inputSize: 3, hiddenSize: 25, nonlinearity: .relu),
    ]

    @Test(arguments: configs)
    func parametersAreUniformInPyTorchsBound(config: ModuleConfig) throws {
        var generator = SplitMix64(seed: 11)
        let record = try ModuleRecord(pytorchDefault: config, path: "net.rnn", using: &generator)
        try record.validate(file: "test")
        let bound = 1 / Float(config.hiddenSize).squareRoot()
        let all = record.parameters.values.flatMap { $0.floatValue.scalars }
        #expect(all.count == config.parameterCount)
        #expect(all.allSatisfy { abs($0) <= bound })
        // Spread over the whole interval, not a constant or a narrow band.
        #expect(all.max()! > bound * 0.8 && all.min()! < -bound * 0.8)
        #expect(record.parameters.values.allSatisfy { $0.storedType == .float32 })
    }

    @Test func sameSeedSameModelOtherSeedOtherModel() throws {
        var a = SplitMix64(seed: 5), b = SplitMix64(seed: 5), c = SplitMix64(seed: 6)
        let first = try LSTM(inputSize: 3, hiddenSize: 4, using: &a)
        let second = try LSTM(inputSize: 3, hiddenSize: 4, using: &b)
        let third = try LSTM(inputSize: 3, hiddenSize: 4, using: &c)
        #expect(first.record == second.record)
        #expect(first.record != third.record)
    }

    @Test func recordReloadsToTheSameModule() throws {
        var generator = SplitMix64(seed: 21)
        let gru = try GRU(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, path: "encoder", using: &generator)
        #expect(gru.record.path == "encoder")
        #expect(gru.config == Self.configs[0])
        let reloaded = try GRU(gru.record)
        let input = try Tensor(shape: [5, 2, 3], scalars: (0..<30).map { Float($0 % 7) / 3 - 1 })
        let (output, hN) = try gru(input, lengths: [5, 3])
        let (output2, hN2) = try reloaded(input, lengths: [5, 3])
        #expect(output == output2 && hN == hN2)
        #expect(output.shape == [5, 2, 8] && hN.shape == [4, 2, 4])
    }

    @Test func savedFileReloadsToTheSameModules() throws {
        let directory = try TemporaryDirectory()
        var generator = SplitMix64(seed: 4)
        let lstm = try LSTM(inputSize: 3, hiddenSize: 6, numLayers: 2, bidirectional: true, projSize: 2, path: "encoder", using: &generator)
        let cell = try RNNCell(inputSize: 4, hiddenSize: 5, nonlinearity: .relu, path: "head.cell", using: &generator)
        let path = directory.file("model.h5")
        try ModelFile(modules: [lstm.record, cell.record]).write(to: path, overwrite: false)

        let file = try ModelFile.read(path: path)
        let reloadedLSTM = try LSTM(try #require(file.modules.first { $0.path == "encoder" }))
        let reloadedCell = try RNNCell(try #require(file.modules.first { $0.path == "head.cell" }))
        #expect(reloadedLSTM.record == lstm.record)
        #expect(reloadedCell.record == cell.record)
        let input = try Tensor(shape: [4, 2, 3], scalars: (0..<24).map { Float($0 % 5) / 2 - 1 })
        let (o1, h1, c1) = try lstm(input, lengths: [4, 2])
        let (o2, h2, c2) = try reloadedLSTM(input, lengths: [4, 2])
        #expect(o1 == o2 && h1 == h2 && c1 == c2)
    }

    @Test func invalidSizesThrow() {
        var generator = SplitMix64(seed: 1)
        #expect(throws: RNNFormatError.self) { _ = try GRU(inputSize: 0, hiddenSize: 4, using: &generator) }
        #expect(throws: RNNFormatError.self) { _ = try LSTM(inputSize: 2, hiddenSize: 4, projSize: 4, using: &generator) }
    }

    @Test func splitMix64MatchesTheReferenceSequence() {
        // First outputs for seed 0 from the reference C implementation (Vigna, splitmix64.c).
        var generator = SplitMix64(seed: 0)
        #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
        #expect(generator.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(generator.next() == 0x06C4_5D18_8009_454F)
    }
}
