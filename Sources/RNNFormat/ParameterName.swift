/// A parsed PyTorch RNN parameter name: `weight_ih_l1_reverse`, `bias_hh`, `weight_hr_l0`.
public struct ParameterName: Sendable, Hashable {
    public var role: ParameterSpec.Role
    /// Layer index; nil for cell names, which carry no `_l{k}` suffix.
    public var layer: Int?
    public var reverse: Bool

    /// Parses `name`; nil when it is not an RNN parameter name.
    public init?(_ name: String) {
        let roles: [(String, ParameterSpec.Role)] = [
            ("weight_ih", .weightIH), ("weight_hh", .weightHH), ("bias_ih", .biasIH),
            ("bias_hh", .biasHH), ("weight_hr", .weightHR),
        ]
        guard let (stem, role) = roles.first(where: { name.hasPrefix($0.0) }) else { return nil }
        var rest = Substring(name.dropFirst(stem.count))
        if rest.isEmpty {
            guard role != .weightHR else { return nil }
            self.role = role
            self.layer = nil
            self.reverse = false
            return
        }
        guard rest.hasPrefix("_l") else { return nil }
        rest = rest.dropFirst(2)
        var reverse = false
        if rest.hasSuffix("_reverse") {
            reverse = true
            rest = rest.dropLast("_reverse".count)
        }
        // Digits only, no sign, no leading zeros (PyTorch writes l0, l1, ..., l10).
        guard !rest.isEmpty, rest.count <= 6, rest.allSatisfy({ $0.isASCII && $0.isNumber }),
              rest == "0" || !rest.hasPrefix("0"), let layer = Int(rest)
        else { return nil }
        self.role = role
        self.layer = layer
        self.reverse = reverse
    }

    public var isCellName: Bool { layer == nil }
}

/// Splits a dotted state_dict key into its module prefix and parameter name:
/// `model.encoder.weight_ih_l0` gives (`model.encoder`, `weight_ih_l0`); `weight_ih` gives (``, `weight_ih`).
public func splitStateDictKey(_ key: String) -> (prefix: String, name: String) {
    guard let dot = key.lastIndex(of: ".") else { return ("", key) }
    return (String(key[..<dot]), String(key[key.index(after: dot)...]))
}
