import RNNFormat
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

/// A result's shape, described from the input's shape so that checking `h0` against it and
/// sizing a result allocate nothing (streaming checks every step). It holds no array, so
/// copying a layout retains nothing; `dimensions(input:)` builds the shape when needed.
struct ResultShape {
    /// How many leading dimensions of the input's shape come first.
    var prefixCount: Int
    /// Their product.
    var prefixProduct: Int
    /// L·D, for states of sequence modules.
    var states: Int?
    /// B, for states of batched sequence modules.
    var batch: Int?
    var last: Int

    /// The first `prefixCount` dimensions of `input`, then `states`, `batch` and `last`.
    init(prefix prefixCount: Int, of input: [Int], states: Int? = nil, batch: Int? = nil, last: Int) {
        self.prefixCount = prefixCount
        prefixProduct = input.prefix(prefixCount).reduce(1, *)
        self.states = states
        self.batch = batch
        self.last = last
    }

    var rank: Int { prefixCount + (states == nil ? 0 : 1) + (batch == nil ? 0 : 1) + 1 }
    var count: Int { prefixProduct * (states ?? 1) * (batch ?? 1) * last }

    /// - Parameter input: the shape of the input the layout was made for.
    func dimensions(input: [Int]) -> [Int] {
        var dimensions: [Int] = []
        dimensions.reserveCapacity(rank)
        // By index: appending a slice of `input` would retain its storage.
        for i in 0..<prefixCount { dimensions.append(input[i]) }
        if let states { dimensions.append(states) }
        if let batch { dimensions.append(batch) }
        dimensions.append(last)
        return dimensions
    }

    /// Whether `shape` is this shape for `input`, without building it.
    func matches(_ shape: [Int], input: [Int]) -> Bool {
        guard shape.count == rank, shape.prefix(prefixCount).elementsEqual(input.prefix(prefixCount)) else { return false }
        var i = prefixCount
        if let states {
            guard shape[i] == states else { return false }
            i += 1
        }
        if let batch {
            guard shape[i] == batch else { return false }
            i += 1
        }
        return shape[i] == last
    }
}

/// How a call's arguments map onto independent calls of the driver.
struct CallLayout {
    /// Independent calls stacked in front (V for sequence modules, the product of the dimensions
    /// before B for cells).
    var slices: Int
    var steps: Int
    var batch: Int
    var batchFirst: Bool
    /// Nil for cells.
    var output: ResultShape?
    var h: ResultShape
    /// LSTM kinds only.
    var c: ResultShape?

    var inputSliceCount: Int = 0
    var outputSliceCount: Int = 0
    var hSliceCount: Int = 0
    var cSliceCount: Int = 0
}

/// A checked call, ready to run. A struct rather than a tuple: tuples are destroyed through
/// generic value witnesses, which showed in profiles of one-step calls.
struct PreparedCall {
    var layout: CallLayout
    var plans: SlicePlans
    var workspace: RecurrenceWorkspace
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
            let leading = input.dropLast()
            let state = ResultShape(prefix: leading.count, of: input, last: hidden)
            layout = CallLayout(slices: leading.dropLast().reduce(1, *), steps: 1, batch: leading.last ?? 1, batchFirst: false,
                                output: nil, h: state, c: config.kind.hasCellState ? state : nil)
        } else {
            let states = config.numLayers * config.numDirections
            guard (2...4).contains(input.count), input.last == inputSize, !input.contains(0) else {
                // Built only on failure: streaming calls this once per step.
                let letters = config.batchFirst ? ["B", "T"] : ["T", "B"]
                let expected = "(T, \(inputSize)), " + ShapeText.tuple(letters + ["\(inputSize)"])
                    + " or " + ShapeText.tuple(["V"] + letters + ["\(inputSize)"]) + " with sizes >= 1"
                throw RNNRuntimeError.shapeMismatch(module: label, argument: "input", expected: expected, actual: input)
            }
            // The output is the input with D·Hout features.
            let output = ResultShape(prefix: input.count - 1, of: input, last: config.numDirections * out)
            switch input.count {
            case 2:
                layout = CallLayout(slices: 1, steps: input[0], batch: 1, batchFirst: false, output: output,
                                    h: ResultShape(prefix: 0, of: input, states: states, last: out),
                                    c: config.kind.hasCellState ? ResultShape(prefix: 0, of: input, states: states, last: hidden) : nil)
            default:
                let leading = input.count - 3
                let (a, b) = (input[input.count - 3], input[input.count - 2])
                let (steps, batch) = config.batchFirst ? (b, a) : (a, b)
                layout = CallLayout(slices: leading == 1 ? input[0] : 1, steps: steps, batch: batch, batchFirst: config.batchFirst,
                                    output: output, h: ResultShape(prefix: leading, of: input, states: states, batch: batch, last: out),
                                    c: config.kind.hasCellState ? ResultShape(prefix: leading, of: input, states: states, batch: batch, last: hidden) : nil)
            }
        }
        if let h0, !layout.h.matches(h0, input: input) {
            throw RNNRuntimeError.shapeMismatch(module: label, argument: stateNames.h, expected: ShapeText.tuple(layout.h.dimensions(input: input)), actual: h0)
        }
        if let c0 {
            guard let c = layout.c else {
                throw RNNRuntimeError.unsupported(module: label, message: "\(stateNames.c) given, but a \(config.kind.rawValue) has no cell state")
            }
            guard c.matches(c0, input: input) else {
                throw RNNRuntimeError.shapeMismatch(module: label, argument: stateNames.c, expected: ShapeText.tuple(c.dimensions(input: input)), actual: c0)
            }
        }
        let slices = max(layout.slices, 1)
        layout.inputSliceCount = layout.steps * layout.batch * inputSize
        layout.outputSliceCount = layout.steps * layout.batch * config.numDirections * out
        layout.hSliceCount = layout.h.count / slices
        layout.cSliceCount = (layout.c?.count ?? 0) / slices
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

    /// Checks a call's arguments and readies its plans and a workspace for it.
    ///
    /// - Parameter scratch: a workspace from an earlier call (a stream's), used when it fits this
    ///   call and replaced by a new one when it does not; nil for a workspace of this call only.
    /// - Throws: `RNNRuntimeError` naming the argument, the expected and the actual shape.
    private func prepare(
        input: [Int], h0: [Int]?, c0: [Int]?, lengths: [Int]?, stateNames: StateNames, scratch: inout RecurrenceWorkspace?
    ) throws -> PreparedCall {
        let layout = try layout(input: input, h0: h0, c0: c0, stateNames: stateNames)
        let plans = try plans(layout: layout, inputRank: input.count, lengths: lengths)
        let tokens = plans.maximumTokens
        let lanes = directionLanes(tokens: tokens, batch: layout.batch)
        if !(scratch?.fits(self, tokens: tokens, batch: layout.batch, lanes: lanes) ?? false) {
            scratch = RecurrenceWorkspace(weights: self, tokens: tokens, batch: layout.batch, lanes: lanes)
        }
        guard let workspace = scratch else { preconditionFailure("workspace assigned above") }
        return PreparedCall(layout: layout, plans: plans, workspace: workspace)
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
    /// - Throws: `RNNRuntimeError` naming the argument, the expected and the actual shape.
    func run(input: Tensor, h0: Tensor?, c0: Tensor?, lengths: [Int]?, stateNames: StateNames = .initial) throws -> ModuleOutput {
        var scratch: RecurrenceWorkspace?
        let call = try prepare(input: input.shape, h0: h0?.shape, c0: c0?.shape, lengths: lengths, stateNames: stateNames,
                               scratch: &scratch)
        let layout = call.layout
        var h = [Float](repeating: 0, count: layout.h.count)
        var c = [Float](repeating: 0, count: layout.c?.count ?? 0)
        let output = execute(input: input, h0: h0?.scalars, c0: c0?.scalars, h: &h, c: &c, layout: layout, plans: call.plans,
                             workspace: call.workspace)
        // h0 and c0 have the results' shapes (`layout` checked them): reuse their arrays.
        return ModuleOutput(output: output, h: Tensor(shape: h0?.shape ?? layout.h.dimensions(input: input.shape), trusted: h),
                            c: layout.c.map { Tensor(shape: c0?.shape ?? $0.dimensions(input: input.shape), trusted: c) })
    }

    /// Runs one chunk of a stream from `state`, which it replaces with the state after the chunk.
    ///
    /// The new states are written over the old ones in their arrays (the driver reads each
    /// state before it writes it), so a step allocates no state when the caller holds no other
    /// copy of them.
    ///
    /// - Parameters:
    ///   - chunk: as `input` of a call.
    ///   - state: its `h` and `c` are checked as `h0` and `c0`; its workspace is used when no
    ///     copy of the state shares it.
    /// - Returns: the chunk's output (sequence modules), nil for cells.
    /// - Throws: `RNNRuntimeError` naming the argument, the expected and the actual shape.
    func step(_ chunk: Tensor, state: inout StreamingState) throws -> Tensor? {
        var scratch: RecurrenceWorkspace?
        if isKnownUniquelyReferenced(&state.scratch) { swap(&scratch, &state.scratch) }
        let call = try prepare(input: chunk.shape, h0: state.h.shape, c0: state.c?.shape, lengths: nil, stateNames: .streaming,
                               scratch: &scratch)
        state.scratch = scratch
        // Moved out of the state, so that the state holds no second reference to them.
        var h = state.h.takeScalars(), c = state.c?.takeScalars() ?? []
        let output = execute(input: chunk, h0: nil, c0: nil, h: &h, c: &c, layout: call.layout, plans: call.plans,
                             workspace: call.workspace)
        state.h.restoreScalars(h)
        state.c?.restoreScalars(c)
        return output
    }

    /// Runs a checked call with the cell math of the module's kind.
    ///
    /// - Parameters:
    ///   - h0, c0: the initial states; nil when `h` and `c` hold them, or for zeros.
    ///   - h, c: (layout.h.count) and (layout.c.count) floats that receive h_n and c_n; they
    ///     hold the initial states when `h0` and `c0` are nil (zeros when none were given).
    /// - Returns: the output, nil for cells.
    private func execute(
        input: Tensor, h0: [Float]?, c0: [Float]?, h: inout [Float], c: inout [Float], layout: CallLayout,
        plans: SlicePlans, workspace: RecurrenceWorkspace
    ) -> Tensor? {
        let sigmoidBlock = PyTorchCPUCapability.current.sigmoidBlock
        switch config.kind.family {
        case .gru:
            return run(GRUMath(sigmoidBlock: sigmoidBlock), input: input, h0: h0, c0: c0, h: &h, c: &c, layout: layout, plans: plans, workspace: workspace)
        case .lstm:
            return run(LSTMMath(sigmoidBlock: sigmoidBlock), input: input, h0: h0, c0: c0, h: &h, c: &c, layout: layout, plans: plans, workspace: workspace)
        case .rnn:
            switch config.nonlinearity {
            case .tanh: return run(TanhRNNMath(), input: input, h0: h0, c0: c0, h: &h, c: &c, layout: layout, plans: plans, workspace: workspace)
            case .relu: return run(ReLURNNMath(), input: input, h0: h0, c0: c0, h: &h, c: &c, layout: layout, plans: plans, workspace: workspace)
            }
        }
    }

    private func run<M: CellMath>(
        _ math: M, input: Tensor, h0: [Float]?, c0: [Float]?, h: inout [Float], c: inout [Float], layout: CallLayout,
        plans: SlicePlans, workspace: RecurrenceWorkspace
    ) -> Tensor? {
        precondition(h.count == layout.h.count && c.count == (layout.c?.count ?? 0), "state arrays do not fit the call")
        // With one step through one layer and direction the output is h_n itself: the results
        // share one array (copy-on-write keeps them independent values) and the driver writes
        // the output into its workspace instead.
        let outputIsH = layout.output != nil && layout.steps == 1 && config.numLayers == 1 && config.numDirections == 1
        // Absent arguments and results are empty arrays, passed on as nil pointers.
        var output = [Float](repeating: 0, count: outputIsH ? 0 : layout.output?.count ?? 0)
        let h0 = h0 ?? [], c0 = c0 ?? []
        input.scalars.withUnsafeBufferPointer { x in
            h0.withUnsafeBufferPointer { h0 in
                c0.withUnsafeBufferPointer { c0 in
                    output.withUnsafeMutableBufferPointer { output in
                        h.withUnsafeMutableBufferPointer { h in
                            c.withUnsafeMutableBufferPointer { c in
                                // Without separate initial states the driver reads them from the
                                // result arrays.
                                let h0Base = h0.isEmpty ? UnsafePointer(h.baseAddress!) : h0.baseAddress!
                                let c0Base = c0.isEmpty ? c.baseAddress.map { UnsafePointer($0) } : c0.baseAddress
                                for slice in 0..<layout.slices {
                                    let buffers = SliceBuffers(
                                        input: x.baseAddress! + slice * layout.inputSliceCount,
                                        batchFirst: layout.batchFirst,
                                        h0: h0Base + slice * layout.hSliceCount,
                                        c0: c.isEmpty ? nil : c0Base.map { $0 + slice * layout.cSliceCount },
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
        return layout.output.map { Tensor(shape: $0.dimensions(input: input.shape), trusted: outputIsH ? h : output) }
    }
}
