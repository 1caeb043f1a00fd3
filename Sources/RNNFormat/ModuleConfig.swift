/// Hyperparameters of one module, named as PyTorch's constructor arguments.
///
/// For cells, `numLayers` is 1, `bidirectional` and `batchFirst` are false and `projSize` is 0.
public struct ModuleConfig: Sendable, Hashable, Codable {
    public var kind: ModuleKind
    public var inputSize: Int
    public var hiddenSize: Int
    public var numLayers: Int
    public var bias: Bool
    public var batchFirst: Bool
    public var dropout: Double
    public var bidirectional: Bool
    /// LSTM only; 0 means no projection.
    public var projSize: Int
    /// RNN kinds only; `.tanh` for the others.
    public var nonlinearity: Nonlinearity
    /// GRU kinds only: where the reset gate applies (ONNX's name). True is PyTorch's GRU (and
    /// Keras `reset_after=True`, ONNX `linear_before_reset=1`):
    /// n = tanh(W_in x + b_in + r * (W_hn h + b_hn)). False is the original formulation (Keras
    /// `reset_after=False`, ONNX's default): n = tanh(W_in x + b_in + W_hn (r * h) + b_hn).
    public var linearBeforeReset: Bool

    public init(
        kind: ModuleKind, inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true,
        batchFirst: Bool = false, dropout: Double = 0, bidirectional: Bool = false,
        projSize: Int = 0, nonlinearity: Nonlinearity = .tanh, linearBeforeReset: Bool = true
    ) {
        self.kind = kind
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.bias = bias
        self.batchFirst = batchFirst
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.projSize = projSize
        self.nonlinearity = nonlinearity
        self.linearBeforeReset = linearBeforeReset
    }

    public var numDirections: Int { bidirectional ? 2 : 1 }

    /// Size of `h` and of each direction's output: `projSize` when projecting, else `hiddenSize`.
    public var outputSize: Int { projSize > 0 ? projSize : hiddenSize }

    /// Rows of `weight_ih`/`weight_hh`: gates times hidden size.
    public var gateRows: Int { kind.gateCount * hiddenSize }

    /// Input width of layer `layer`: `inputSize` for the first, directions times output size above.
    public func layerInputSize(_ layer: Int) -> Int {
        layer == 0 ? inputSize : numDirections * outputSize
    }

    /// Every parameter this module must hold, with PyTorch's names and shapes, in PyTorch's
    /// state_dict order. This is the single source of truth for validation, writing and import.
    public var expectedParameters: [ParameterSpec] {
        if kind.isCell {
            var specs = [
                ParameterSpec(name: "weight_ih", shape: [gateRows, inputSize], role: .weightIH, layer: 0, direction: 0),
                ParameterSpec(name: "weight_hh", shape: [gateRows, hiddenSize], role: .weightHH, layer: 0, direction: 0),
            ]
            if bias {
                specs.append(ParameterSpec(name: "bias_ih", shape: [gateRows], role: .biasIH, layer: 0, direction: 0))
                specs.append(ParameterSpec(name: "bias_hh", shape: [gateRows], role: .biasHH, layer: 0, direction: 0))
            }
            return specs
        }
        var specs: [ParameterSpec] = []
        for layer in 0..<numLayers {
            for direction in 0..<numDirections {
                let suffix = "_l\(layer)" + (direction == 1 ? "_reverse" : "")
                specs.append(ParameterSpec(name: "weight_ih" + suffix, shape: [gateRows, layerInputSize(layer)], role: .weightIH, layer: layer, direction: direction))
                specs.append(ParameterSpec(name: "weight_hh" + suffix, shape: [gateRows, outputSize], role: .weightHH, layer: layer, direction: direction))
                if bias {
                    specs.append(ParameterSpec(name: "bias_ih" + suffix, shape: [gateRows], role: .biasIH, layer: layer, direction: direction))
                    specs.append(ParameterSpec(name: "bias_hh" + suffix, shape: [gateRows], role: .biasHH, layer: layer, direction: direction))
                }
                if projSize > 0 {
                    specs.append(ParameterSpec(name: "weight_hr" + suffix, shape: [projSize, hiddenSize], role: .weightHR, layer: layer, direction: direction))
                }
            }
        }
        return specs
    }

    /// Number of scalar parameters.
    public var parameterCount: Int {
        expectedParameters.reduce(0) { $0 + $1.elementCount }
    }
}

/// One parameter a module holds: its PyTorch name, shape and place.
public struct ParameterSpec: Sendable, Hashable {
    /// What a parameter is for: which product it enters.
    public enum Role: String, Sendable, Hashable {
        case weightIH, weightHH, biasIH, biasHH, weightHR
        /// Weights are matrices a quantizer may turn into int8; biases stay float.
        public var isWeight: Bool { self == .weightIH || self == .weightHH || self == .weightHR }
    }

    public var name: String
    public var shape: [Int]
    public var role: Role
    public var layer: Int
    public var direction: Int

    public var elementCount: Int { shape.reduce(1, *) }
}
