/// The PyTorch class a module reproduces; the raw value is the class name stored in the
/// `module` attribute of a module group (spec/FORMAT.md, "Modules").
public enum ModuleKind: String, Sendable, Hashable, CaseIterable, Codable {
    case gru = "GRU"
    case lstm = "LSTM"
    case rnn = "RNN"
    case gruCell = "GRUCell"
    case lstmCell = "LSTMCell"
    case rnnCell = "RNNCell"

    /// Number of stacked gate blocks in `weight_ih`/`weight_hh` rows: GRU r,z,n; LSTM i,f,g,o.
    public var gateCount: Int {
        switch self {
        case .gru, .gruCell: 3
        case .lstm, .lstmCell: 4
        case .rnn, .rnnCell: 1
        }
    }

    /// Cells take one step (`weight_ih`, no layer suffix); the others take sequences.
    public var isCell: Bool {
        switch self {
        case .gruCell, .lstmCell, .rnnCell: true
        case .gru, .lstm, .rnn: false
        }
    }

    /// LSTM kinds carry a cell state `c` next to `h`.
    public var hasCellState: Bool { self == .lstm || self == .lstmCell }

    /// RNN kinds take a `nonlinearity` (tanh or relu).
    public var hasNonlinearity: Bool { self == .rnn || self == .rnnCell }

    /// The sequence kind a cell belongs to, and vice versa.
    public var family: Family {
        switch self {
        case .gru, .gruCell: .gru
        case .lstm, .lstmCell: .lstm
        case .rnn, .rnnCell: .rnn
        }
    }

    /// The recurrence a kind computes, cells and sequence modules alike.
    public enum Family: String, Sendable, Hashable {
        case gru, lstm, rnn
    }
}

/// The element-wise nonlinearity of `RNN`/`RNNCell`.
public enum Nonlinearity: String, Sendable, Hashable, CaseIterable, Codable {
    case tanh
    case relu
}
