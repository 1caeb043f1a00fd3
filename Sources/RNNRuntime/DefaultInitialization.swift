import RNNFormat
extension ModuleRecord {
    /// A module with PyTorch's default initialisation: every parameter drawn from
    /// U(-1/√hidden_size, 1/√hidden_size), in state_dict order, stored as float32.
    ///
    /// The draws come from `generator`, so a seeded generator (`SplitMix64`) gives the same
    /// module on every run and platform; they are not PyTorch's own random numbers.
    ///
    /// - Parameters:
    ///   - config: hyperparameters.
    ///   - path: the state_dict prefix the module will be saved under ("" for the root).
    ///   - generator: the source of randomness.
    /// - Throws: `RNNFormatError(.invalidAttribute)` for invalid hyperparameters.
    public init(pytorchDefault config: ModuleConfig, path: String = "", using generator: inout some RandomNumberGenerator) throws {
        try config.validate(file: "configuration", object: path)
        let bound = 1 / Float(config.hiddenSize).squareRoot()
        var parameters: [String: Parameter] = [:]
        for spec in config.expectedParameters {
            let values = (0..<spec.elementCount).map { _ in Float.random(in: -bound...bound, using: &generator) }
            parameters[spec.name] = .float(Tensor(shape: spec.shape, trusted: values), stored: .float32)
        }
        self.init(path: path, config: config, parameters: parameters)
    }
}
