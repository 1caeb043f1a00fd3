import RNNFormat
/// The products of one layer and direction, prepared once from the module's parameters.
///
/// A class so that the driver takes one reference per layer and direction instead of copying
/// three `Linear`s (about ten retains each call, measurable when streaming one step per call).
final class DirectionWeights: Sendable {
    /// `weight_ih` with `bias_ih`.
    let inputProduct: Linear
    /// `weight_hh` with `bias_hh`.
    let hiddenProduct: Linear
    /// `weight_hr` (LSTM with `proj_size`), no bias.
    let projection: Linear?
    /// Whether a call of one step (a stream's) alternates the order of both its one-row
    /// products from call to call: such a step reads both matrices, so it pays when the two
    /// together take more than half the L2 (`Linear.alternatesOrder` for one matrix). Float GRU
    /// 256 streaming: 1.15x on a 2 MiB L2, where the recurrent matrix alone (786 KB) does not
    /// alternate; BENCHMARKS.md.
    let stepAlternates: Bool

    init(inputProduct: Linear, hiddenProduct: Linear, projection: Linear?) {
        self.inputProduct = inputProduct
        self.hiddenProduct = hiddenProduct
        self.projection = projection
        stepAlternates = inputProduct.reversible && hiddenProduct.reversible
            && Linear.alternationPays(bytes: inputProduct.weightBytes + hiddenProduct.weightBytes)
    }
}

/// A module's hyperparameters and prepared products: immutable, shared by every call.
struct RecurrentWeights: Sendable {
    let config: ModuleConfig
    /// Names the module in errors: kind and state_dict prefix.
    let label: String
    /// Indexed `[layer][direction]`; cells have one layer and one direction.
    let layers: [[DirectionWeights]]
    /// Per layer, where two threads would split its steps (`rowSplit`); nil where they never do.
    let splits: [LayerSplit?]

    /// An object of this module's prepared weights, which tells them from another module's
    /// (workspaces are sized for them).
    var owner: AnyObject { layers[0][0] }

    /// Validates `record` and prepares its products.
    ///
    /// - Throws: `RNNFormatError` when the parameters do not match the hyperparameters.
    init(record: ModuleRecord) throws {
        try record.validate(file: "module record", naming: .stateDict)
        let config = record.config
        let label = config.kind.rawValue + (record.path.isEmpty ? "" : " '\(record.path)'")
        var built: [[DirectionWeights]] = []
        let specs = config.expectedParameters
        for layer in 0..<config.numLayers {
            var directions: [DirectionWeights] = []
            for direction in 0..<config.numDirections {
                func parameter(_ role: ParameterSpec.Role) -> (name: String, value: Parameter)? {
                    guard let spec = specs.first(where: { $0.role == role && $0.layer == layer && $0.direction == direction }),
                          let value = record.parameters[spec.name] else { return nil }
                    return (spec.name, value)
                }
                func linear(_ weightRole: ParameterSpec.Role, _ biasRole: ParameterSpec.Role?) throws -> Linear? {
                    guard let weight = parameter(weightRole) else { return nil }
                    let bias = biasRole.flatMap { parameter($0) }?.value.floatValue
                    return try Linear(weight: weight.value, bias: bias)
                }
                // validate() guarantees weight_ih and weight_hh are present.
                guard let input = try linear(.weightIH, .biasIH), let hidden = try linear(.weightHH, .biasHH) else {
                    preconditionFailure("validated record lacks weight_ih/weight_hh")
                }
                directions.append(DirectionWeights(inputProduct: input, hiddenProduct: hidden,
                                                   projection: try linear(.weightHR, nil)))
            }
            built.append(directions)
        }
        self.config = config
        self.label = label
        self.layers = built
        splits = Self.splitPoints(config: config, layers: built)
    }
}
