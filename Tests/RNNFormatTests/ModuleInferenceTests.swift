import Testing
@testable import RNNFormat

/// Float parameters of the given shapes, values in [-1, 1).
private func tensors(_ shapes: [String: [Int]]) throws -> [String: Parameter] {
    var generator = SystemRandomNumberGenerator()
    return try shapes.mapValues { shape in
        let count = shape.reduce(1, *)
        return .float(try Tensor(shape: shape, scalars: (0..<count).map { _ in Float.random(in: -1..<1, using: &generator) }), stored: .float32)
    }
}

/// The state_dict a module with `config` has, by `expectedParameters`.
private func stateDict(_ config: ModuleConfig, prefix: String) throws -> [String: Parameter] {
    var shapes: [String: [Int]] = [:]
    for spec in config.expectedParameters { shapes[prefix.isEmpty ? spec.name : prefix + "." + spec.name] = spec.shape }
    return try tensors(shapes)
}

@Suite("Module inference")
struct ModuleInferenceTests {
    static let configs: [ModuleConfig] = [
        ModuleConfig(kind: .gru, inputSize: 5, hiddenSize: 7),
        ModuleConfig(kind: .gru, inputSize: 5, hiddenSize: 7, numLayers: 3, bias: false, bidirectional: true),
        ModuleConfig(kind: .lstm, inputSize: 4, hiddenSize: 6, numLayers: 2, bidirectional: true, projSize: 3),
        ModuleConfig(kind: .rnn, inputSize: 3, hiddenSize: 2, numLayers: 2),
        ModuleConfig(kind: .gruCell, inputSize: 3, hiddenSize: 9),
        ModuleConfig(kind: .lstmCell, inputSize: 3, hiddenSize: 9, bias: false),
        ModuleConfig(kind: .rnnCell, inputSize: 1, hiddenSize: 1),
    ]

    @Test("names and shapes give back the hyperparameters", arguments: configs)
    func roundTrip(config: ModuleConfig) throws {
        let assembly = try ModuleInference.assemble(stateDict(config, prefix: "model.enc"), file: "t.pt")
        let module = try #require(assembly.modules.first)
        #expect(assembly.modules.count == 1)
        #expect(module.path == "model.enc")
        #expect(module.config == config)
        #expect(assembly.leftovers.isEmpty)
    }

    @Test("tensors of other modules are left over, modules at several prefixes are all found")
    func leftoversAndSeveralModules() throws {
        var dict = try stateDict(ModuleConfig(kind: .gru, inputSize: 2, hiddenSize: 3), prefix: "encoder")
        dict.merge(try stateDict(ModuleConfig(kind: .lstm, inputSize: 3, hiddenSize: 4), prefix: ""), uniquingKeysWith: { a, _ in a })
        dict.merge(try tensors(["head.weight": [2, 3], "embedding.weight": [10, 2]]), uniquingKeysWith: { a, _ in a })
        let assembly = try ModuleInference.assemble(dict, file: "t.pt")
        #expect(assembly.modules.map(\.path) == ["", "encoder"])
        #expect(assembly.modules.map(\.config.kind) == [.lstm, .gru])
        #expect(assembly.leftovers == ["embedding.weight", "head.weight"])
    }

    @Test("a reverse direction without the forward one is refused, naming the group")
    func reverseWithoutForward() throws {
        let dict = try tensors(["rnn.weight_ih_l0_reverse": [6, 2], "rnn.weight_hh_l0_reverse": [6, 2]])
        let error = try #require(throws: RNNFormatError.self) { try ModuleInference.assemble(dict, file: "m.h5", naming: .hdf5) }
        #expect(error.code == .missingTensor)
        #expect(error.description.hasPrefix("m.h5: /rnn: "))
        #expect(error.description.contains("weight_ih_l0 and weight_hh_l0"))
    }

    @Test("a missing middle layer names the tensor and its expected shape")
    func missingLayer() throws {
        var dict = try stateDict(ModuleConfig(kind: .gru, inputSize: 2, hiddenSize: 3, numLayers: 3), prefix: "")
        dict["weight_hh_l1"] = nil
        let error = try #require(throws: RNNFormatError.self) { try ModuleInference.assemble(dict, file: "m.h5", naming: .hdf5) }
        #expect(error.code == .missingTensor)
        #expect(error.object == "/weight_hh_l1")
        #expect(error.message.contains("[9, 3]"))
    }

    @Test("a wrong shape reports expected and found")
    func wrongShape() throws {
        var dict = try stateDict(ModuleConfig(kind: .lstm, inputSize: 2, hiddenSize: 3), prefix: "a.b")
        dict["a.b.bias_hh_l0"] = try tensors(["x": [11]])["x"]
        let error = try #require(throws: RNNFormatError.self) { try ModuleInference.assemble(dict, file: "f.pt") }
        #expect(error.code == .shapeMismatch)
        #expect(error.description == "f.pt: a.b.bias_hh_l0: expected shape [12], found [11]")
    }

    @Test("gate multiples other than 1, 3, 4 are no known kind")
    func unknownGateMultiple() throws {
        let dict = try tensors(["weight_ih_l0": [10, 2], "weight_hh_l0": [10, 5]])
        let error = try #require(throws: RNNFormatError.self) { try ModuleInference.assemble(dict, file: "f.h5") }
        #expect(error.code == .unknownKind)
        #expect(error.message.contains("2 times the hidden size (5)"))
    }

    @Test("NaN in a weight is refused with its position")
    func nonFinite() throws {
        var dict = try stateDict(ModuleConfig(kind: .rnnCell, inputSize: 2, hiddenSize: 2), prefix: "")
        dict["weight_hh"] = .float(try Tensor(shape: [2, 2], scalars: [0, 1, .nan, 2]), stored: .float32)
        let error = try #require(throws: RNNFormatError.self) { try ModuleInference.assemble(dict, file: "f.h5") }
        #expect(error.code == .nonFinite)
        #expect(error.message.contains("flat index 2"))
    }

    @Test("cell and layer names in one group are contradictory")
    func mixedNames() throws {
        var dict = try stateDict(ModuleConfig(kind: .gruCell, inputSize: 2, hiddenSize: 2), prefix: "")
        dict.merge(try tensors(["weight_ih_l0": [6, 2], "weight_hh_l0": [6, 2]]), uniquingKeysWith: { a, _ in a })
        let error = try #require(throws: RNNFormatError.self) { try ModuleInference.assemble(dict, file: "f.h5") }
        #expect(error.code == .unknownKind)
    }

    @Test("parameter names parse like PyTorch writes them and nothing else",
          arguments: [("weight_ih_l0", true), ("bias_hh_l12_reverse", true), ("weight_hr_l0", true), ("weight_ih", true),
                      ("weight_hr", false), ("weight_ih_l", false), ("weight_ih_l01", false), ("weight_ih_l-1", false),
                      ("weight_ih_l0_rev", false), ("weight", false), ("weight_ih_l0reverse", false)])
    func names(name: String, valid: Bool) {
        #expect((ParameterName(name) != nil) == valid)
    }
}
