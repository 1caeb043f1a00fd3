@testable import RNNFormat
import _RNNKitTestSupport

/// Builds modules with random values for round-trip tests.
enum ModuleFactory {
    /// One configuration per kind and feature: layers, directions, projections, no bias, relu.
    static let configs: [ModuleConfig] = [
        ModuleConfig(kind: .gru, inputSize: 5, hiddenSize: 7, numLayers: 2, bidirectional: true),
        ModuleConfig(kind: .gru, inputSize: 3, hiddenSize: 4, bias: false, batchFirst: true, dropout: 0.25),
        ModuleConfig(kind: .lstm, inputSize: 4, hiddenSize: 6),
        ModuleConfig(kind: .lstm, inputSize: 4, hiddenSize: 6, numLayers: 2, bidirectional: true, projSize: 3),
        ModuleConfig(kind: .rnn, inputSize: 3, hiddenSize: 5, numLayers: 2, nonlinearity: .relu),
        ModuleConfig(kind: .rnn, inputSize: 3, hiddenSize: 5, bidirectional: true),
        ModuleConfig(kind: .gruCell, inputSize: 4, hiddenSize: 3),
        ModuleConfig(kind: .lstmCell, inputSize: 4, hiddenSize: 3, bias: false),
        ModuleConfig(kind: .rnnCell, inputSize: 2, hiddenSize: 3, nonlinearity: .relu),
    ]

    /// A valid module of `config` at `path` whose float parameters are stored as `stored`
    /// (values exactly representable in it) and, when `quantized`, int8 weights.
    static func record(
        _ config: ModuleConfig, path: String = "model.rnn", stored: ElementType = .float32,
        quantized: QuantizedTensor.Scheme? = nil, seed: UInt64 = 1
    ) -> ModuleRecord {
        var rng = SeededGenerator(seed: seed)
        var parameters: [String: Parameter] = [:]
        for spec in config.expectedParameters {
            if let scheme = quantized, spec.role.isWeight {
                let scaleCount = scheme == .perTensor ? 1 : spec.shape[0]
                parameters[spec.name] = .quantized(QuantizedTensor(
                    shape: spec.shape,
                    trusted: (0..<spec.elementCount).map { _ in Int8.random(in: -128...127, using: &rng) },
                    scales: (0..<scaleCount).map { _ in Float.random(in: 0.001...0.1, using: &rng) },
                    zeroPoints: (0..<scaleCount).map { _ in Int32.random(in: -3...3, using: &rng) }))
                continue
            }
            var scalars = (0..<spec.elementCount).map { _ in Float.random(in: -1...1, using: &rng) }
            if stored == .float16 {
                scalars = scalars.map { HalfPrecision.float(fromFloat16: HalfPrecision.float16Bits(from: $0)!) }
            }
            parameters[spec.name] = .float(Tensor(shape: spec.shape, trusted: scalars), stored: stored)
        }
        return ModuleRecord(path: path, config: config, parameters: parameters)
    }
}
