/// Decodes the state_dict form of PyTorch's dynamically quantized RNNs into ordinary
/// parameter names holding int8 weights and float biases.
///
/// - Full modules (`torch.ao.nn.quantized.dynamic.GRU/LSTM`) store
///   `<prefix>._all_weight_values.<layer*D + dir>.param`, each a `torch.ScriptObject` of class
///   `CellParamsBase` whose state is `('quantized_dynamic', [b_ih, b_hh], [], [reduce_range],
///   [packed_ih, packed_hh])`, and each packed object (`LinearPackedParamsBase`) holds
///   `(qint8 weight, bias)`.
/// - Cells (`GRUCell`, `LSTMCell`, `RNNCell`) store `<prefix>._packed_weight_ih` and
///   `<prefix>._packed_weight_hh`, each a `LinearPackedParamsBase`.
///
/// The unpacked names are `weight_ih_l0`, `bias_hh_l1_reverse`, ... (or the cell names), so
/// `ModuleInference` infers the module from shapes exactly as for float checkpoints.
struct QuantizedCheckpoint {
    let graph: PickleGraph
    let archive: TorchArchive

    /// One direction of one layer: its two weights and biases.
    private struct CellParams {
        var weightIH: QuantizedTensor
        var weightHH: QuantizedTensor
        var biasIH: Tensor?
        var biasHH: Tensor?
    }


    /// The module prefix of a packed key (`enc` for `enc._all_weight_values.0.param` or
    /// `enc._packed_weight_ih`), nil for other keys.
    static func packedPrefix(_ key: String) -> String? {
        if let (prefix, _) = packedLayerIndex(key) { return prefix }
        return packedCell(key)?.prefix
    }

    /// `(prefix, "ih" or "hh")` for `<prefix>._packed_weight_ih` / `_hh`.
    private static func packedCell(_ key: String) -> (prefix: String, role: String)? {
        let (prefix, name) = splitStateDictKey(key)
        switch name {
        case "_packed_weight_ih": return (prefix, "ih")
        case "_packed_weight_hh": return (prefix, "hh")
        default: return nil
        }
    }

    /// `(prefix, N)` for `<prefix>._all_weight_values.N.param`.
    private static func packedLayerIndex(_ key: String) -> (prefix: String, index: Int)? {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[parts.count - 1] == "param", parts[parts.count - 3] == "_all_weight_values" else { return nil }
        let digits = parts[parts.count - 2]
        guard !digits.isEmpty, digits.count <= 6, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(digits) else { return nil }
        return (parts.dropLast(3).joined(separator: "."), n)
    }

    /// Unpacks every packed entry of one state_dict.
    /// - Parameter entries: the state_dict's script-object entries by key.
    /// - Returns: parameters by full dotted name.
    /// - Throws: `RNNFormatError` naming the key when a packed object is not what PyTorch writes.
    func unpack(_ entries: [(key: String, value: PickleValue)]) throws -> [String: Parameter] {
        var layers: [String: [Int: (key: String, object: Int)]] = [:]
        var cells: [String: [String: (key: String, object: Int)]] = [:]
        for (key, value) in entries {
            guard case .scriptObject(let id) = value else { continue }
            if let (prefix, n) = Self.packedLayerIndex(key) {
                layers[prefix, default: [:]][n] = (key, id)
            } else if let (prefix, role) = Self.packedCell(key) {
                cells[prefix, default: [:]][role] = (key, id)
            }
        }
        var parameters: [String: Parameter] = [:]
        let name = ObjectNaming.stateDict.name

        for (prefix, packed) in layers {
            let count = packed.count
            var params: [CellParams] = []
            for n in 0..<count {
                guard let (key, id) = packed[n] else {
                    throw RNNFormatError(.missingTensor, file: archive.path, object: name(prefix, "_all_weight_values.\(n).param"),
                                         "packed quantized weights are numbered 0..<\(count) but entry \(n) is missing")
                }
                params.append(try cellParams(object: id, key: key))
            }
            let directions = try Self.directions(params.map { ($0.weightIH.shape, $0.weightHH.shape) }, file: archive.path,
                                                 object: name(prefix, "_all_weight_values"))
            for (n, p) in params.enumerated() {
                let suffix = "_l\(n / directions)" + (n % directions == 1 ? "_reverse" : "")
                parameters[name(prefix, "weight_ih" + suffix)] = .quantized(p.weightIH)
                parameters[name(prefix, "weight_hh" + suffix)] = .quantized(p.weightHH)
                if let b = p.biasIH { parameters[name(prefix, "bias_ih" + suffix)] = .float(b, stored: .float32) }
                if let b = p.biasHH { parameters[name(prefix, "bias_hh" + suffix)] = .float(b, stored: .float32) }
            }
        }
        for (prefix, pair) in cells {
            for (role, entry) in pair.sorted(by: { $0.key < $1.key }) {
                let (weight, bias) = try linearPacked(object: entry.object, key: entry.key)
                parameters[name(prefix, "weight_" + role)] = .quantized(weight)
                if let bias { parameters[name(prefix, "bias_" + role)] = .float(bias, stored: .float32) }
            }
        }
        return parameters
    }

    /// Whether N packed entries are N layers of one direction or N/2 layers of two: layer 0's
    /// input width is the module's input size, higher layers' is directions x hidden size.
    static func directions(_ shapes: [(ih: [Int], hh: [Int])], file: String, object: String) throws -> Int {
        guard let first = shapes.first else { return 1 }
        let hidden = first.hh[1]
        func fits(_ d: Int) -> Bool {
            guard shapes.count % d == 0 else { return false }
            return shapes.enumerated().allSatisfy { n, s in
                let expectedInput = n / d == 0 ? first.ih[1] : d * hidden
                return s.ih[1] == expectedInput && s.ih[0] == first.ih[0] && s.hh == first.hh
            }
        }
        switch (fits(1), fits(2)) {
        case (true, false): return 1
        case (false, true): return 2
        case (true, true):
            throw RNNFormatError(.unknownKind, file: file, object: object,
                                 "ambiguous quantized module: \(shapes.count) packed weight sets with input size equal to hidden size (\(hidden)) fit both \(shapes.count) unidirectional layers and \(shapes.count / 2) bidirectional layer(s); the quantized state_dict does not record which")
        case (false, false):
            throw RNNFormatError(.shapeMismatch, file: file, object: object,
                                 "packed weight shapes \(shapes.map { "\($0.ih)/\($0.hh)" }.joined(separator: ", ")) fit no layer and direction layout")
        }
    }

    // MARK: script object states

    private func malformed(_ key: String, _ message: String) -> RNNFormatError {
        RNNFormatError(.malformed, file: archive.path, object: key, "quantized module: \(message)")
    }

    /// The state a script object received, as (payload, class name).
    private func state(_ object: Int, key: String, expectedClass: String) throws -> PickleValue {
        guard let state = graph.scriptObjects[object], case .tuple = state, let items = graph.sequence(state), items.count == 2,
              case .string(let className) = items[1]
        else {
            throw malformed(key, "expected a torch.ScriptObject with a (state, class name) pair")
        }
        guard className == expectedClass else {
            throw RNNFormatError(.unsupported, file: archive.path, object: key,
                                 "expected a script object of class \(expectedClass), found \(className)")
        }
        return items[0]
    }

    private func cellParams(object: Int, key: String) throws -> CellParams {
        let payload = try state(object, key: key, expectedClass: "__torch__.torch.classes.rnn.CellParamsBase")
        guard let fields = graph.sequence(payload), fields.count == 5, case .string(let kind) = fields[0] else {
            throw malformed(key, "expected CellParamsBase state (type, tensors, doubles, longs, packed)")
        }
        guard kind == "quantized_dynamic" else {
            throw RNNFormatError(.unsupported, file: archive.path, object: key,
                                 "quantized RNN parameters of type '\(kind)' are not supported (only int8 'quantized_dynamic')")
        }
        guard let tensors = graph.sequence(fields[1]), let longs = graph.sequence(fields[3]) else {
            throw malformed(key, "expected lists of biases and longs")
        }
        // fbgemm's dynamic RNNs quantize activations with reduce_range; that is what the runtime reproduces.
        if let first = longs.first, first != .int(1) {
            let shown = if case .int(let v) = first { String(v) } else { first.kindName }
            throw RNNFormatError(.unsupported, file: archive.path, object: key,
                                 "reduce_range \(shown) is not supported (PyTorch's x86 engines write 1, which the runtime reproduces)")
        }
        guard let packed = graph.sequence(fields[4]), packed.count == 2 else {
            throw malformed(key, "expected two packed weights (input and hidden)")
        }
        guard case .scriptObject(let ih) = packed[0], case .scriptObject(let hh) = packed[1] else {
            throw malformed(key, "packed weights are not script objects")
        }
        let (wih, packedBiasIH) = try linearPacked(object: ih, key: key)
        let (whh, packedBiasHH) = try linearPacked(object: hh, key: key)
        // The biases appear both in the tensor list and inside the packed objects; PyTorch's
        // runtime uses the tensor list, and the two are one shared tensor in what it writes.
        var biases: [Tensor] = []
        for value in tensors {
            guard case .tensor(let ref) = value else { throw malformed(key, "bias list holds a \(value.kindName)") }
            biases.append(try archive.floatTensor(ref, key: key).0)
        }
        guard biases.isEmpty || biases.count == 2 else { throw malformed(key, "expected 0 or 2 biases, found \(biases.count)") }
        return CellParams(weightIH: wih, weightHH: whh,
                          biasIH: biases.first ?? packedBiasIH, biasHH: biases.count == 2 ? biases[1] : packedBiasHH)
    }

    private func linearPacked(object: Int, key: String) throws -> (QuantizedTensor, Tensor?) {
        let payload = try state(object, key: key, expectedClass: "__torch__.torch.classes.quantized.LinearPackedParamsBase")
        guard let fields = graph.sequence(payload), fields.count == 2, case .tensor(let weight) = fields[0] else {
            throw malformed(key, "expected LinearPackedParamsBase state (qint8 weight, bias)")
        }
        let q = try archive.quantizedMatrix(weight, key: key)
        switch fields[1] {
        case .none: return (q, nil)
        case .tensor(let ref): return (q, try archive.floatTensor(ref, key: key).0)
        default: throw malformed(key, "bias is a \(fields[1].kindName)")
        }
    }
}
