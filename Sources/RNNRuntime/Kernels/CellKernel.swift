import CRNNKernels

/// The element-wise part of GRU and LSTM steps, vectorised, operation by operation as PyTorch's
/// CPU cells compute them (CRNNKernels.h says what is reproduced bit for bit).
///
/// `sigmoidBlock` is `PyTorchCPUCapability.sigmoidBlock` of the PyTorch build to reproduce.
package enum CellKernel {
    /// GRU: `r = σ(gh_r + gi_r)`, `z = σ(gh_z + gi_z)`, `n = tanh(gi_n + gh_n·r)`, `h' = (h - n)·z + n`.
    ///
    /// - Parameters:
    ///   - gi: (3·hidden) input projection with `b_ih`.
    ///   - gh: (3·hidden) hidden projection with `b_hh`.
    ///   - hPrev: (hidden) previous state; may be the same memory as `hOut`.
    ///   - hOut: (hidden) new state.
    ///   - elements: the elements to update, all by default; a range that starts at a multiple
    ///     of 32 gets exactly what the whole-row call gives there (two threads split rows so).
    @inline(__always)
    package static func gru(
        gi: UnsafePointer<Float>, gh: UnsafePointer<Float>, hPrev: UnsafePointer<Float>,
        hOut: UnsafeMutablePointer<Float>, hidden: Int, elements: Range<Int>? = nil, sigmoidBlock: Int,
        isa: KernelISA = .best
    ) {
        let range = elements ?? 0..<hidden
        precondition(range.lowerBound >= 0 && range.upperBound <= hidden && range.lowerBound % 32 == 0)
        crnn_gru_cell(isa.rawValue, sigmoidBlock, gi, gh, hPrev, hOut, hidden, range.lowerBound, range.upperBound)
    }

    /// LSTM: gates i, f, g, o; `c' = f·c + i·g` (in place), `h' = o·tanh(c')`.
    ///
    /// - Parameters:
    ///   - gi: (4·hidden) input projection with `b_ih`.
    ///   - gh: (4·hidden) hidden projection with `b_hh`.
    ///   - c: (hidden) cell state, updated in place.
    ///   - hOut: (hidden) new hidden state before any projection.
    ///   - elements: as for `gru`.
    @inline(__always)
    package static func lstm(
        gi: UnsafePointer<Float>, gh: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
        hOut: UnsafeMutablePointer<Float>, hidden: Int, elements: Range<Int>? = nil, sigmoidBlock: Int,
        isa: KernelISA = .best
    ) {
        let range = elements ?? 0..<hidden
        precondition(range.lowerBound >= 0 && range.upperBound <= hidden && range.lowerBound % 32 == 0)
        crnn_lstm_cell(isa.rawValue, sigmoidBlock, gi, gh, c, hOut, hidden, range.lowerBound, range.upperBound)
    }

    /// `y[i] = 1 / (1 + exp(-x[i]))` (vector blocks of `sigmoidBlock`, as ATen); `y` may be `x`.
    package static func sigmoid(
        _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, sigmoidBlock: Int, isa: KernelISA = .best
    ) {
        precondition(y.count >= x.count)
        crnn_sigmoid(isa.rawValue, sigmoidBlock, x.baseAddress, y.baseAddress, x.count)
    }

    /// `y[i] = tanh(x[i])`; `y` may be `x`.
    package static func tanh(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, isa: KernelISA = .best) {
        precondition(y.count >= x.count)
        crnn_tanh(isa.rawValue, x.baseAddress, y.baseAddress, x.count)
    }
}
