import Foundation
import Testing
import RNNFormat

@Suite("Quantizer rules")
struct QuantizerTests {
    static func floatModule(_ config: ModuleConfig, seed: UInt64 = 1) throws -> ModuleRecord {
        var state = seed
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 2500
        }
        var parameters: [String: Parameter] = [:]
        for spec in config.expectedParameters {
            let t = try Tensor(shape: spec.shape, scalars: (0..<spec.elementCount).map { _ in next() })
            parameters[spec.name] = .float(t, stored: .float32)
        }
        return ModuleRecord(path: "model.rnn", config: config, parameters: parameters)
    }

    @Test("per-tensor: one scale amax/127.5, zero point 0, values within -128...127")
    func perTensorRule() throws {
        let w = try Tensor(shape: [2, 3], scalars: [0.5, -1.0, 0.25, 0.75, 1.0 / 3, -0.2])
        let q = Quantizer().quantize(w)
        #expect(q.scheme == .perTensor)
        #expect(q.scales == [Float(1.0) / Float(127.5)])
        #expect(q.zeroPoints == [0])
        // The largest magnitude lands on the edge of the range; 0.5 -> 63.75 -> 64.
        #expect(q.values[1] == -127 || q.values[1] == -128)
        #expect(q.values[0] == 64)
        #expect(q.values.allSatisfy { $0 >= -128 && $0 <= 127 })
    }

    @Test("per-channel: each row gets its own scale")
    func perChannelRule() throws {
        let w = try Tensor(shape: [2, 2], scalars: [0.1, -0.05, 4, 2])
        let q = Quantizer(scheme: .perChannel).quantize(w)
        #expect(q.scales == [Float(0.1) / 127.5, Float(4) / 127.5])
        #expect(q.zeroPoints == [0, 0])
        #expect(q.values == [127, -64, 127, 64])
    }

    @Test("an all-zero matrix gets the minimum scale")
    func zeroMatrix() throws {
        let q = Quantizer().quantize(try Tensor(zeros: [3, 4]))
        #expect(q.scales == [Float.ulpOfOne])
        #expect(q.values.allSatisfy { $0 == 0 })
    }

    @Test("dequantized weights are within half a step of the float ones",
          arguments: [QuantizedTensor.Scheme.perTensor, .perChannel])
    func roundTrip(scheme: QuantizedTensor.Scheme) throws {
        let module = try Self.floatModule(ModuleConfig(kind: .gru, inputSize: 5, hiddenSize: 7))
        let w = module.parameters["weight_hh_l0"]!.floatValue
        let q = Quantizer(scheme: scheme).quantize(w)
        let back = q.dequantized()
        for r in 0..<q.rows {
            let s = q.scales[scheme == .perTensor ? 0 : r]
            for c in 0..<q.columns {
                let i = r * q.columns + c
                // Tolerance: half a quantization step plus float32 rounding of the product.
                #expect((back.scalars[i] - w.scalars[i]).magnitude <= 0.5 * s * 1.0001)
            }
        }
    }

    static let configs: [ModuleConfig] = [
        ModuleConfig(kind: .gru, inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true),
        ModuleConfig(kind: .lstm, inputSize: 3, hiddenSize: 5, numLayers: 2, projSize: 2),
        ModuleConfig(kind: .rnn, inputSize: 2, hiddenSize: 3, nonlinearity: .relu),
        ModuleConfig(kind: .gruCell, inputSize: 3, hiddenSize: 4),
        ModuleConfig(kind: .lstmCell, inputSize: 3, hiddenSize: 4, bias: false),
        ModuleConfig(kind: .rnnCell, inputSize: 3, hiddenSize: 4),
    ]

    @Test("every weight (weight_hr included) becomes int8; biases stay float32", arguments: configs)
    func moduleQuantization(config: ModuleConfig) throws {
        var module = try Self.floatModule(config)
        if config.bias, let name = config.expectedParameters.first(where: { !$0.role.isWeight })?.name {
            module.parameters[name] = .float(module.parameters[name]!.floatValue, stored: .float16)
        }
        let q = try Quantizer().quantize(module, file: "in.h5")
        #expect(q.quantization == .perTensor)
        #expect(q.parameters.count == module.parameters.count)
        for spec in config.expectedParameters {
            let p = try #require(q.parameters[spec.name])
            if spec.role.isWeight {
                guard case .quantized(let t) = p else {
                    Issue.record("\(spec.name) not quantized")
                    continue
                }
                #expect(t == Quantizer().quantize(module.parameters[spec.name]!.floatValue))
            } else {
                #expect(p == .float(module.parameters[spec.name]!.floatValue, stored: .float32))
            }
        }
        #expect(q.storedBytes < module.storedBytes)
    }

    @Test("refuses already quantized, non-finite, missing and misshapen weights")
    func refusals() throws {
        let config = ModuleConfig(kind: .gru, inputSize: 3, hiddenSize: 4)
        let module = try Self.floatModule(config)
        let quantized = try Quantizer().quantize(module, file: "in.h5")
        let again = #expect(throws: RNNFormatError.self) { try Quantizer().quantize(quantized, file: "q.h5") }
        #expect(again?.code == .unsupported)
        #expect(again?.description.contains("q.h5: /model/rnn/weight_ih_l0: already quantized") == true)

        var nan = module
        var w = module.parameters["weight_hh_l0"]!.floatValue
        w[flat: 5] = .nan
        nan.parameters["weight_hh_l0"] = .float(w, stored: .float32)
        let nonFinite = #expect(throws: RNNFormatError.self) { try Quantizer().quantize(nan, file: "in.h5") }
        #expect(nonFinite?.code == .nonFinite)
        #expect(nonFinite?.object == "/model/rnn/weight_hh_l0")

        var missing = module
        missing.parameters["weight_ih_l0"] = nil
        let absent = #expect(throws: RNNFormatError.self) { try Quantizer().quantize(missing, file: "in.h5") }
        #expect(absent?.code == .missingTensor)

        var misshapen = module
        misshapen.parameters["bias_ih_l0"] = .float(try Tensor(zeros: [5]), stored: .float32)
        let shape = #expect(throws: RNNFormatError.self) { try Quantizer().quantize(misshapen, file: "in.h5") }
        #expect(shape?.code == .shapeMismatch)
        #expect(shape?.message.contains("expected shape [12], found [5]") == true)
    }
}
