/// The results of one call, in PyTorch's shapes.
public struct ModuleOutput: Sendable, Hashable {
    /// Sequence modules: (T, B, D·Hout), (B, T, D·Hout) when batch-first, (T, D·Hout) unbatched,
    /// with a leading V when the input had one; zero past each element's length. Nil for cells.
    public var output: Tensor?
    /// `h_n`: (L·D, B, Hout), (L·D, Hout) unbatched, (V, L·D, B, Hout) with leading V.
    /// Cells: `h'` with the input's leading dimensions.
    public var h: Tensor
    /// `c_n` (LSTM) or `c'` (LSTMCell), with the hidden size in place of Hout; nil otherwise.
    public var c: Tensor?

    public init(output: Tensor?, h: Tensor, c: Tensor?) {
        self.output = output
        self.h = h
        self.c = c
    }
}

/// How errors name the state arguments: `h0`/`c0` for calls, `state.h`/`state.c` when streaming.
struct StateNames {
    var h: String
    var c: String
    static let initial = StateNames(h: "h0", c: "c0")
    static let streaming = StateNames(h: "state.h", c: "state.c")
}

/// How a call's arguments map onto independent calls of the driver.
struct CallLayout {
    /// Independent calls stacked in front (V for sequence modules, the product of the dimensions
    /// before B for cells).
    var slices: Int
    var steps: Int
    var batch: Int
    var batchFirst: Bool
    var outputShape: [Int]?
    var hShape: [Int]
    var cShape: [Int]?

    var inputSliceCount: Int = 0
    var outputSliceCount: Int = 0
    var hSliceCount: Int { hShape.reduce(1, *) / max(slices, 1) }
    var cSliceCount: Int { (cShape?.reduce(1, *) ?? 0) / max(slices, 1) }
}

extension RecurrentWeights {
    /// Checks the arguments' shapes against the module and works out the independent calls.
    func layout(input: [Int], h0: [Int]?, c0: [Int]?, stateNames: StateNames) throws -> CallLayout {
        let inputSize = config.inputSize, hidden = config.hiddenSize, out = config.outputSize
        var layout: CallLayout
        if config.kind.isCell {
            guard input.count >= 1, input.last == inputSize, !input.contains(0) else {
                throw RNNRuntimeError.shapeMismatch(module: label, argument: "input",
                                                    expected: "(\(inputSize),) or (..., B, \(inputSize)) with sizes >= 1", actual: input)
            }
            let leading = Array(input.dropLast())
            layout = CallLayout(slices: leading.dropLast().reduce(1, *), steps: 1, batch: leading.last ?? 1, batchFirst: false,
                                outputShape: nil, hShape: leading + [hidden],
                                cShape: config.kind.hasCellState ? leading + [hidden] : nil)
        } else {
            let states = config.numLayers * config.numDirections
            guard (2...4).contains(input.count), input.last == inputSize, !input.contains(0) else {
                // Built only on failure: streaming calls this once per step.
                let letters = config.batchFirst ? ["B", "T"] : ["T", "B"]
                let expected = "(T, \(inputSize)), " + ShapeText.tuple(letters + ["\(inputSize)"])
                    + " or " + ShapeText.tuple(["V"] + letters + ["\(inputSize)"]) + " with sizes >= 1"
                throw RNNRuntimeError.shapeMismatch(module: label, argument: "input", expected: expected, actual: input)
            }
            let outWidth = config.numDirections * out
            switch input.count {
            case 2:
                layout = CallLayout(slices: 1, steps: input[0], batch: 1, batchFirst: false,
                                    outputShape: [input[0], outWidth], hShape: [states, out],
                                    cShape: config.kind.hasCellState ? [states, hidden] : nil)
            default:
                let leading = input.count == 4 ? [input[0]] : []
                let (a, b) = (input[input.count - 3], input[input.count - 2])
                let (steps, batch) = config.batchFirst ? (b, a) : (a, b)
                layout = CallLayout(slices: leading.first ?? 1, steps: steps, batch: batch, batchFirst: config.batchFirst,
                                    outputShape: leading + [a, b, outWidth], hShape: leading + [states, batch, out],
                                    cShape: config.kind.hasCellState ? leading + [states, batch, hidden] : nil)
            }
        }
        if let h0, h0 != layout.hShape {
            throw RNNRuntimeError.shapeMismatch(module: label, argument: stateNames.h, expected: ShapeText.tuple(layout.hShape), actual: h0)
        }
        if let c0 {
            guard let cShape = layout.cShape else {
                throw RNNRuntimeError.unsupported(module: label, message: "\(stateNames.c) given, but a \(config.kind.rawValue) has no cell state")
            }
            guard c0 == cShape else {
                throw RNNRuntimeError.shapeMismatch(module: label, argument: stateNames.c, expected: ShapeText.tuple(cShape), actual: c0)
            }
        }
        layout.inputSliceCount = layout.steps * layout.batch * inputSize
        layout.outputSliceCount = layout.steps * layout.batch * config.numDirections * out
        return layout
    }

    /// Checks `lengths` and returns the plan of each independent call.
    func plans(layout: CallLayout, inputRank: Int, lengths: [Int]?) throws -> SlicePlans {
        guard let lengths else {
            return .shared(SequencePlan(steps: layout.steps, batch: layout.batch, lengths: nil))
        }
        if config.kind.isCell {
            throw RNNRuntimeError.unsupported(module: label, message: "lengths apply to sequence modules only, not to \(config.kind.rawValue)")
        }
        guard inputRank >= 3 else {
            throw RNNRuntimeError.unsupported(module: label, message: "lengths need a batched input, found unbatched (T, I) input")
        }
        let batch = layout.batch
        guard lengths.count == batch || lengths.count == layout.slices * batch else {
            let expected = inputRank == 4 ? "(\(batch),) or (\(layout.slices), \(batch))" : "(\(batch),)"
            throw RNNRuntimeError.shapeMismatch(module: label, argument: "lengths", expected: expected, actual: [lengths.count])
        }
        if let bad = lengths.firstIndex(where: { $0 < 1 || $0 > layout.steps }) {
            throw RNNRuntimeError.invalidLengths(module: label,
                                                 message: "expected every length in 1...\(layout.steps) (the sequence length), found \(lengths[bad]) at index \(bad)")
        }
        if lengths.count == batch {
            return .shared(SequencePlan(steps: layout.steps, batch: batch, lengths: lengths[...]))
        }
        return .perSlice(stride(from: 0, to: lengths.count, by: batch).map {
            SequencePlan(steps: layout.steps, batch: batch, lengths: lengths[$0..<$0 + batch])
        })
    }

    /// Runs the module on `input` with PyTorch's semantics for its class.
    ///
    /// - Parameters:
    ///   - input: see `CallLayout`; sequence modules (T, B, I) / (B, T, I), (T, I), (V, ...);
    ///     cells (..., I).
    ///   - h0: initial hidden state, zeros when nil.
    ///   - c0: initial cell state (LSTM kinds), zeros when nil.
    ///   - lengths: valid steps per batch element (B values, or V·B with a leading V).
    ///   - stateNames: how errors name `h0` and `c0`.
    ///   - scratch: a workspace from an earlier call (a stream's), used when it fits this call
    ///     and replaced by a new one when it does not; nil for a workspace of this call only.
    /// - Throws: `RNNRuntimeError` naming the argument, the expected and the actual shape.
    func run(
        input: Tensor, h0: Tensor?, c0: Tensor?, lengths: [Int]?, stateNames: StateNames = .initial,
        scratch: inout RecurrenceWorkspace?
    ) throws -> ModuleOutput {
        let layout = try layout(input: input.shape, h0: h0?.shape, c0: c0?.shape, stateNames: stateNames)
        let plans = try plans(layout: layout, inputRank: input.rank, lengths: lengths)
        let tokens = plans.maximumTokens
        let lanes = directionLanes(tokens: tokens, batch: layout.batch)
        if !(scratch?.fits(self, tokens: tokens, batch: layout.batch, lanes: lanes) ?? false) {
            scratch = RecurrenceWorkspace(weights: self, tokens: tokens, batch: layout.batch, lanes: lanes)
        }
        guard let workspace = scratch else { preconditionFailure("workspace assigned above") }
        let sigmoidBlock = PyTorchCPUCapability.current.sigmoidBlock
        switch config.kind.family {
        case .gru: return run(GRUMath(sigmoidBlock: sigmoidBlock), input: input, h0: h0, c0: c0, layout: layout, plans: plans, workspace: workspace)
        case .lstm: return run(LSTMMath(sigmoidBlock: sigmoidBlock), input: input, h0: h0, c0: c0, layout: layout, plans: plans, workspace: workspace)
        case .rnn:
            switch config.nonlinearity {
            case .tanh: return run(TanhRNNMath(), input: input, h0: h0, c0: c0, layout: layout, plans: plans, workspace: workspace)
            case .relu: return run(ReLURNNMath(), input: input, h0: h0, c0: c0, layout: layout, plans: plans, workspace: workspace)
            }
        }
    }

    /// `run(input:h0:c0:lengths:stateNames:scratch:)` with a workspace for this call only.
    func run(input: Tensor, h0: Tensor?, c0: Tensor?, lengths: [Int]?, stateNames: StateNames = .initial) throws -> ModuleOutput {
        var scratch: RecurrenceWorkspace?
        return try run(input: input, h0: h0, c0: c0, lengths: lengths, stateNames: stateNames, scratch: &scratch)
    }

    private func run<M: CellMath>(
        _ math: M, input: Tensor, h0: Tensor?, c0: Tensor?, layout: CallLayout, plans: SlicePlans,
        workspace: RecurrenceWorkspace
    ) -> ModuleOutput {
        // Absent arguments and results are empty arrays, passed on as nil pointers.
        var output = [Float](repeating: 0, count: layout.outputShape?.reduce(1, *) ?? 0)
        var h = [Float](repeating: 0, count: layout.hShape.reduce(1, *))
        var c = [Float](repeating: 0, count: layout.cShape?.reduce(1, *) ?? 0)
        let h0 = h0?.scalars ?? [], c0 = c0?.scalars ?? []
        input.scalars.withUnsafeBufferPointer { x in
            h0.withUnsafeBufferPointer { h0 in
                c0.withUnsafeBufferPointer { c0 in
                    output.withUnsafeMutableBufferPointer { output in
                        h.withUnsafeMutableBufferPointer { h in
                            c.withUnsafeMutableBufferPointer { c in
                                for slice in 0..<layout.slices {
                                    let buffers = SliceBuffers(
                                        input: x.baseAddress! + slice * layout.inputSliceCount,
                                        batchFirst: layout.batchFirst,
                                        h0: h0.isEmpty ? nil : h0.baseAddress! + slice * layout.hSliceCount,
                                        c0: c0.isEmpty ? nil : c0.baseAddress! + slice * layout.cSliceCount,
                                        output: output.isEmpty ? nil : output.baseAddress! + slice * layout.outputSliceCount,
                                        hN: h.baseAddress! + slice * layout.hSliceCount,
                                        cN: c.isEmpty ? nil : c.baseAddress! + slice * layout.cSliceCount)
                                    runSlice(math, plan: plans[slice], buffers: buffers, workspace: workspace)
                                }
                            }
                        }
                    }
                }
            }
        }
        return ModuleOutput(
            output: layout.outputShape.map { Tensor(shape: $0, scalars: output) },
            h: Tensor(shape: layout.hShape, scalars: h),
            c: layout.cShape.map { Tensor(shape: $0, scalars: c) })
    }
}
