/// The element-wise part of one recurrent step, after both products are computed: what
/// distinguishes GRU, LSTM and RNN. The recurrence driver is generic over it, so each kind
/// gets its own specialised time loop from one source.
protocol CellMath: Sendable {
    /// Gate blocks in the products' outputs (GRU 3, LSTM 4, RNN 1).
    static var gateCount: Int { get }

    /// Updates one row.
    ///
    /// - Parameters:
    ///   - gi: (gates·H) input projection, `b_ih` included.
    ///   - gh: (gates·H) hidden projection, `b_hh` included.
    ///   - hPrev: (H) previous hidden state (read by GRU only; may equal `hOut`).
    ///   - hOut: (H) the new hidden state before any projection.
    ///   - c: (H) cell state, updated in place (LSTM only).
    ///   - hidden: H.
    ///   - elements: the elements to update (two threads split a row at a multiple of 32 and
    ///     get the whole-row results).
    func update(
        gi: UnsafePointer<Float>, gh: UnsafePointer<Float>, hPrev: UnsafePointer<Float>,
        hOut: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>, hidden: Int, elements: Range<Int>
    )
}

/// GRU, gates r, z, n: n uses `r * gh_n` with `b_hn` inside `gh_n`; `h' = (h - n) * z + n` as PyTorch writes it.
struct GRUMath: CellMath {
    static var gateCount: Int { 3 }
    /// `PyTorchCPUCapability.sigmoidBlock` of the build whose last bits to reproduce.
    var sigmoidBlock: Int

    @inline(__always)
    func update(
        gi: UnsafePointer<Float>, gh: UnsafePointer<Float>, hPrev: UnsafePointer<Float>,
        hOut: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>, hidden h: Int, elements: Range<Int>
    ) {
        CellKernel.gru(gi: gi, gh: gh, hPrev: hPrev, hOut: hOut, hidden: h, elements: elements, sigmoidBlock: sigmoidBlock)
    }
}

/// LSTM, gates i, f, g, o: `c' = f*c + i*g`, `h' = o*tanh(c')`.
struct LSTMMath: CellMath {
    static var gateCount: Int { 4 }
    /// `PyTorchCPUCapability.sigmoidBlock` of the build whose last bits to reproduce.
    var sigmoidBlock: Int

    @inline(__always)
    func update(
        gi: UnsafePointer<Float>, gh: UnsafePointer<Float>, hPrev: UnsafePointer<Float>,
        hOut: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>, hidden h: Int, elements: Range<Int>
    ) {
        CellKernel.lstm(gi: gi, gh: gh, c: c, hOut: hOut, hidden: h, elements: elements, sigmoidBlock: sigmoidBlock)
    }
}

/// Elman RNN with tanh: `h' = tanh(gi + gh)`.
struct TanhRNNMath: CellMath {
    static var gateCount: Int { 1 }

    @inline(__always)
    func update(
        gi: UnsafePointer<Float>, gh: UnsafePointer<Float>, hPrev: UnsafePointer<Float>,
        hOut: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>, hidden h: Int, elements: Range<Int>
    ) {
        for j in elements {
            hOut[j] = gi[j] + gh[j]
        }
        // Correctly rounded on every path, so any split gives the whole row's values.
        let out = hOut + elements.lowerBound
        CellKernel.tanh(UnsafeBufferPointer(start: out, count: elements.count),
                        into: UnsafeMutableBufferPointer(start: out, count: elements.count))
    }
}

/// Elman RNN with ReLU: `h' = max(gi + gh, 0)`.
struct ReLURNNMath: CellMath {
    static var gateCount: Int { 1 }

    @inline(__always)
    func update(
        gi: UnsafePointer<Float>, gh: UnsafePointer<Float>, hPrev: UnsafePointer<Float>,
        hOut: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>, hidden h: Int, elements: Range<Int>
    ) {
        for j in elements {
            let v = gi[j] + gh[j]
            hOut[j] = v > 0 ? v : 0
        }
    }
}
