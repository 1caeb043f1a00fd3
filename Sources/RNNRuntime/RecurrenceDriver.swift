import RNNFormat
/// Which tokens of a (T, B) batch are valid and in which order the driver visits them.
///
/// Like PyTorch's packed sequences, batch elements are visited sorted by decreasing length
/// (stable), so the rows active at time `t` are the first `activeRows(at: t)` rows of the sorted
/// state and the recurrent product covers exactly them with no gather. Valid tokens are stored
/// time-major in that sorted order: token `(t, k)` is row `firstToken(at: t) + k`.
///
/// When every element is full length (no `lengths`, the common case and every streaming call)
/// the plan is arithmetic and allocates nothing.
struct SequencePlan: Sendable {
    let steps: Int
    let batch: Int
    /// Nil when every element is full length: identity order, `batch` rows at every step.
    private let packing: Packing?

    /// The sorted order and per-step counts of a batch with different lengths.
    private final class Packing: Sendable {
        /// Sorted position `k` holds batch element `order[k]`.
        let order: [Int]
        /// Active rows at each time step.
        let counts: [Int]
        /// First token row of each time step; `offsets[steps]` is the number of valid tokens.
        let offsets: [Int]

        init(order: [Int], counts: [Int], offsets: [Int]) {
            self.order = order
            self.counts = counts
            self.offsets = offsets
        }
    }

    /// Valid tokens of the call.
    var tokens: Int { packing.map { $0.offsets[steps] } ?? steps * batch }

    /// The batch element at sorted position `k`.
    @inline(__always) func element(_ k: Int) -> Int { packing.map { $0.order[k] } ?? k }
    /// Rows active at time `t`: the first ones in sorted order.
    @inline(__always) func activeRows(at t: Int) -> Int { packing.map { $0.counts[t] } ?? batch }
    /// The token row of sorted position 0 at time `t`.
    @inline(__always) func firstToken(at t: Int) -> Int { packing.map { $0.offsets[t] } ?? t * batch }
    /// Every element full length: tokens are the (T, B) input rows in order.
    var isFull: Bool { packing == nil }

    /// - Parameter lengths: per batch element, each in 1...steps; nil when every element is full.
    init(steps: Int, batch: Int, lengths: ArraySlice<Int>?) {
        self.steps = steps
        self.batch = batch
        guard let lengths, lengths.contains(where: { $0 != steps }) else {
            if let lengths { precondition(lengths.count == batch) }
            packing = nil
            return
        }
        precondition(lengths.count == batch && lengths.allSatisfy { $0 >= 1 && $0 <= steps })
        let base = lengths.startIndex
        let sorted = (0..<batch).sorted { a, b in
            let la = lengths[base + a], lb = lengths[base + b]
            return la != lb ? la > lb : a < b
        }
        var counts = [Int](repeating: 0, count: steps)
        for length in lengths {
            for t in 0..<length { counts[t] += 1 }
        }
        var offsets = [0]
        for t in 0..<steps { offsets.append(offsets[t] + counts[t]) }
        packing = Packing(order: sorted, counts: counts, offsets: offsets)
    }
}

/// The plans of a call's independent slices: one shared by all (no lengths, or B lengths), or
/// one per slice (V·B lengths).
enum SlicePlans: Sendable {
    case shared(SequencePlan)
    case perSlice([SequencePlan])

    subscript(slice: Int) -> SequencePlan {
        switch self {
        case .shared(let plan): plan
        case .perSlice(let plans): plans[slice]
        }
    }

    /// The most valid tokens of any slice: what the workspace is sized for.
    var maximumTokens: Int {
        switch self {
        case .shared(let plan): plan.tokens
        case .perSlice(let plans): plans.map(\.tokens).max() ?? 0
        }
    }
}

/// Where one independent call reads its input and writes its results: (T, B, I) or (B, T, I)
/// input, (L·D, B, Hout) states, output like the input with D·Hout features; all contiguous.
struct SliceBuffers {
    var input: UnsafePointer<Float>
    var batchFirst: Bool
    /// May be `hN` (and `c0` may be `cN`): each state is read before it is written.
    var h0: UnsafePointer<Float>
    /// LSTM kinds only.
    var c0: UnsafePointer<Float>?
    /// Zero-filled by the caller; nil for cells, and when the caller takes h_n for the output.
    var output: UnsafeMutablePointer<Float>?
    var hN: UnsafeMutablePointer<Float>
    /// LSTM kinds only.
    var cN: UnsafeMutablePointer<Float>?
}

/// How two threads share the steps of one unidirectional layer (`RecurrentWeights.rowSplit`).
struct RowSplit: Sendable {
    /// Product rows (gate rows) `0..<rows` are thread 0's, the rest thread 1's.
    var rows: Int
    /// Cell elements `0..<elements` are thread 0's, the rest thread 1's.
    var elements: Int
}

/// A layer's split points and whether its products are int8 (which sets how much work a split
/// needs), worked out when the weights are prepared.
struct LayerSplit: Sendable {
    var rows: RowSplit
    var int8: Bool
}

/// Scratch for one call, allocated once before the loops and carved into regions: two
/// ping-pong layer buffers, then one set of per-direction scratch per lane of a bidirectional
/// module (directions that run at the same time need their own), and one `LinearWorkspace`
/// per lane (thread) with its int8 buffers already at their largest size, so no product
/// allocates.
///
/// A class over raw memory: the driver reaches it through pointers, the time loop neither
/// retains nor copies it, and a stream can keep one from call to call (`StreamingState`).
/// `@unchecked Sendable` because one call at a time uses it: a call either makes its own or
/// takes a stream's after checking that it holds the only reference; the two directions of a
/// bidirectional layer use disjoint lanes of it (`Parallelism.run`), the two threads of a split
/// layer disjoint parts of one lane and their own `LinearWorkspace`s (`SharedPhases.run`).
final class RecurrenceWorkspace: @unchecked Sendable {
    let layerWidth: Int
    let gateWidth: Int
    let tokens: Int
    let batch: Int
    let hidden: Int
    let stateWidth: Int
    /// Threads of one call: 2 for a module allowed two threads that uses them
    /// (`directionLanes`), else 1.
    let lanes: Int
    /// `2 · tokens · layerWidth + regions · laneCount` floats (regions: the lanes of a
    /// bidirectional module, else 1), not zero-filled: every region is
    /// written before it is read (gathered input, products, initial h and c, cell outputs), and
    /// zeroing megabytes per call showed in profiles.
    let storage: UnsafeMutablePointer<Float>
    /// One per lane.
    let linear: UnsafeMutablePointer<LinearWorkspace>
    /// What the two threads of a split layer share.
    let phases = SharedPhases()
    /// Whether the next call's first step visits its recurrent products backward. The steps
    /// alternate (`crnn_f32_gemm`'s `backward`), across the calls of a stream too; only the
    /// calling thread touches it, before and after the layers run.
    var backwardNext = false

    /// Floats of one lane: input gates, hidden gates, h, c, h before projection.
    var laneCount: Int { tokens * gateWidth + batch * gateWidth + batch * stateWidth + 2 * batch * hidden }

    /// The prepared weights it was sized for (its int8 buffers depend on their shapes). A strong
    /// reference, so that another module's weights can never take the same identity.
    let owner: AnyObject

    /// Sized for calls of `weights` over at most `tokens` valid tokens of `batch` elements.
    init(weights: RecurrentWeights, tokens: Int, batch: Int, lanes: Int) {
        let config = weights.config
        owner = weights.owner
        layerWidth = max(config.inputSize, config.numDirections * config.outputSize)
        gateWidth = config.gateRows
        self.tokens = tokens
        self.batch = batch
        hidden = config.hiddenSize
        stateWidth = config.outputSize
        self.lanes = lanes
        // A split unidirectional layer's two threads share one set of regions; only their
        // product scratch is separate.
        let regions = config.numDirections == 2 ? lanes : 1
        let count = 2 * tokens * layerWidth + regions * (tokens * gateWidth + batch * gateWidth + batch * stateWidth + 2 * batch * hidden)
        storage = .allocate(capacity: max(count, 1))
        var prototype = LinearWorkspace()
        for layer in weights.layers {
            for direction in layer {
                direction.inputProduct.reserve(rows: tokens, in: &prototype)
                direction.hiddenProduct.reserve(rows: batch, in: &prototype)
                direction.projection?.reserve(rows: batch, in: &prototype)
            }
        }
        linear = .allocate(capacity: lanes)
        linear.initialize(to: prototype)
        // Each lane gets its own buffers (a copy would share them until the first write).
        for lane in 1..<max(lanes, 1) {
            var own = LinearWorkspace()
            own.int8.reserve(activations: prototype.int8.activations.count, accumulators: prototype.int8.accumulators.count)
            (linear + lane).initialize(to: own)
        }
    }

    deinit {
        linear.deinitialize(count: lanes)
        linear.deallocate()
        storage.deallocate()
    }

    /// Whether this workspace serves a call of `weights` over `tokens` tokens of `batch` elements
    /// with `lanes` lanes (a stream reuses its workspace while this holds).
    func fits(_ weights: RecurrentWeights, tokens: Int, batch: Int, lanes: Int) -> Bool {
        tokens <= self.tokens && batch == self.batch && lanes == self.lanes
            && owner === weights.owner
    }
}

extension RecurrentWeights {
    /// How many threads a call over `tokens` tokens of `batch` elements uses:
    /// 2 when the task allows two and either a bidirectional layer's directions each have
    /// enough work to pay for waking a second thread, or a unidirectional layer's steps are
    /// large enough to split (`rowSplit`); otherwise 1. Each thread gets a lane of the workspace.
    func directionLanes(tokens: Int, batch: Int) -> Int {
        guard Parallelism.maximumThreads >= 2 else { return 1 }
        if config.numDirections == 1 {
            return (0..<config.numLayers).contains { rowSplit(layer: $0, batch: batch) != nil } ? 2 : 1
        }
        var work = 0
        for layer in 0..<config.numLayers {
            work += tokens * config.gateRows * (config.layerInputSize(layer) + config.outputSize)
            if config.projSize > 0 { work += tokens * config.projSize * config.hiddenSize }
        }
        return work >= Parallelism.minimumWorkPerThread ? 2 : 1
    }

    /// How two threads (when the task allows two) share each step of unidirectional layer
    /// `layer` over `batch` rows, or nil when it stays on one: no
    /// projection, and a recurrent product large enough that halving it saves more than the
    /// threads' meetings cost (three per step, a few hundred nanoseconds each here;
    /// `Parallelism.minimumFloatSplitWork`). Thread 0 takes the product rows up to a multiple
    /// of `PackedRows.block` (128) near the middle and the cell elements up to a
    /// multiple of 32 near the middle; thread 1 the rest. Every value is computed as on one
    /// thread.
    func rowSplit(layer: Int, batch: Int) -> RowSplit? {
        // Read per call: the split points and kinds were worked out once (`splitPoints`).
        guard let split = splits[layer] else { return nil }
        let minimum = split.int8 ? Parallelism.minimumInt8SplitWork : Parallelism.minimumFloatSplitWork
        return batch * config.gateRows * config.hiddenSize >= minimum ? split.rows : nil
    }

    /// Where each layer's steps would split across two threads, or nil for layers that never
    /// split (bidirectional, projected, or too small to cut at a row block and 32 elements).
    static func splitPoints(config: ModuleConfig, layers: [[DirectionWeights]]) -> [LayerSplit?] {
        layers.map { directions in
            guard config.numDirections == 1, config.projSize == 0, let weights = directions.first else { return nil }
            let hidden = config.hiddenSize, gateRows = config.gateRows, block = PackedRows.block
            let rows = (gateRows + block) / (2 * block) * block, elements = (hidden + 32) / 64 * 32
            guard elements > 0, elements < hidden, weights.hiddenProduct.canSplit(at: rows),
                  weights.inputProduct.canSplit(at: rows) else { return nil }
            return LayerSplit(rows: RowSplit(rows: rows, elements: elements), int8: weights.hiddenProduct.isInt8)
        }
    }

    /// Runs every layer and direction of one independent call with the cell math `math`.
    ///
    /// Per layer and direction: one input product over all valid tokens, then per time step one
    /// hidden product over the active rows, the cell update, and for LSTM with projection one
    /// `weight_hr` product over the active rows. PyTorch's dynamic-int8 modules take their
    /// activation scales at exactly these calls. With two lanes the two directions of a layer
    /// run on two threads; they read the same input and write disjoint columns of the output.
    func runSlice<M: CellMath>(
        _ math: M, plan: SequencePlan, buffers b: SliceBuffers, workspace ws: RecurrenceWorkspace
    ) {
        let steps = plan.steps, batch = plan.batch, tokens = plan.tokens
        let inputSize = config.inputSize, hidden = config.hiddenSize, out = config.outputSize
        let directions = config.numDirections, layerOutWidth = directions * out
        let gateWidth = ws.gateWidth, layerWidth = ws.layerWidth
        let capacity = ws.tokens, laneCount = ws.laneCount, lanes = ws.lanes
        precondition(tokens <= capacity && batch <= ws.batch, "workspace too small for the call")
        let projecting = config.projSize > 0
        let linearWorkspaces = ws.linear
        let base = ws.storage
        var bufferA = base
        var bufferB = bufferA + capacity * layerWidth
        let laneBase = bufferB + capacity * layerWidth

        // Time-major input with every element full length is already in the driver's token
        // order: the first layer reads it in place and the last writes the output in place
        // (gathering and scattering cost ~10% of a batched call).
        let inPlace = !b.batchFirst && plan.isFull
        if !inPlace {
            // Gather the valid tokens of the input, time-major in sorted order.
            for t in 0..<steps {
                for k in 0..<plan.activeRows(at: t) {
                    let element = plan.element(k)
                    let source = b.input + (b.batchFirst ? element * steps + t : t * batch + element) * inputSize
                    (bufferA + (plan.firstToken(at: t) + k) * inputSize).update(from: source, count: inputSize)
                }
            }
        }
        let lastLayer = config.numLayers - 1
        var wroteOutput = false
        // Step s of every layer visits its recurrent product's rows backward when this differs
        // from s being odd, if the product alternates (`Linear.alternatesOrder`): each step then
        // reads first the blocks the step before read last, which are still in cache. A call of
        // one step alternates its input product too when the two together are large enough
        // (`DirectionWeights.stepAlternates`): it reads both at every step of a stream.
        let firstBackward = ws.backwardNext
        defer { ws.backwardNext = firstBackward != (steps % 2 == 1) }

        for layer in 0..<config.numLayers {
            let inWidth = config.layerInputSize(layer)
            let x = UnsafeBufferPointer(start: layer == 0 && inPlace ? b.input : UnsafePointer(bufferA),
                                        count: tokens * inWidth)
            let output: UnsafeMutablePointer<Float>
            if layer == lastLayer, inPlace, let final = b.output {
                output = final
                wroteOutput = true
            } else {
                output = bufferB
            }

            /// One direction of this layer with lane `lane`'s scratch; or, as thread `thread` (0 or
            /// 1), a share of a unidirectional layer split across two threads by `split`: lane 0's
            /// buffers shared, each thread's own product scratch, and each piece of work (the
            /// input product, each step's recurrent product, each step's cell update) a phase of
            /// two halves, product rows or cell elements, that the threads claim (`SharedPhases`).
            func runDirection(_ direction: Int, lane: Int, thread: Int? = nil, split: RowSplit? = nil) {
                let gates = laneBase + lane * laneCount
                let hiddenGates = gates + capacity * gateWidth
                let h = hiddenGates + batch * gateWidth
                let c = h + batch * out
                let hFull = c + batch * hidden
                let weights = layers[layer][direction]
                let stateIndex = layer * directions + direction
                var phase: UInt64 = 0

                /// Runs `body` over the whole piece of work, or over the halves this thread claims.
                func each(_ body: (_ rows: Range<Int>?, _ elements: Range<Int>, _ scratch: UnsafeMutablePointer<LinearWorkspace>) -> Void) {
                    guard let thread, let split else {
                        body(nil, 0..<hidden, linearWorkspaces + lane)
                        return
                    }
                    phase += 1
                    ws.phases.share(phase, thread: thread) { half in
                        switch half {
                        case 0?: body(0..<split.rows, 0..<split.elements, linearWorkspaces + thread)
                        case 1?: body(split.rows..<gateWidth, split.elements..<hidden, linearWorkspaces + thread)
                        default: body(nil, 0..<hidden, linearWorkspaces + thread)  // the whole phase
                        }
                    }
                }

                let stepAlternates = steps == 1 && weights.stepAlternates
                each { rows, _, scratch in
                    weights.inputProduct.apply(x, rows: tokens, into: UnsafeMutableBufferPointer(start: gates, count: tokens * gateWidth),
                                               outputs: rows, backward: stepAlternates && firstBackward, workspace: &scratch.pointee)
                    guard rows?.lowerBound ?? 0 == 0 else { return }
                    for k in 0..<batch {
                        let element = plan.element(k)
                        let hRow = h + k * out, cRow = c + k * hidden
                        hRow.update(from: b.h0 + (stateIndex * batch + element) * out, count: out)
                        if let c0 = b.c0 {
                            cRow.update(from: c0 + (stateIndex * batch + element) * hidden, count: hidden)
                        }
                    }
                }

                for step in 0..<steps {
                    let t = direction == 0 ? step : steps - 1 - step
                    let active = plan.activeRows(at: t)
                    let first = plan.firstToken(at: t)
                    let backward = (stepAlternates || weights.hiddenProduct.alternatesOrder) && firstBackward != (step % 2 == 1)
                    each { rows, _, scratch in
                        weights.hiddenProduct.apply(UnsafeBufferPointer(start: h, count: active * out), rows: active,
                                                    into: UnsafeMutableBufferPointer(start: hiddenGates, count: active * gateWidth),
                                                    outputs: rows, backward: backward, workspace: &scratch.pointee)
                    }
                    each { _, elements, scratch in
                        for k in 0..<active {
                            math.update(gi: gates + (first + k) * gateWidth, gh: hiddenGates + k * gateWidth,
                                        hPrev: h + k * out, hOut: projecting ? hFull + k * hidden : h + k * out,
                                        c: c + k * hidden, hidden: hidden, elements: elements)
                        }
                        if let projection = weights.projection {
                            projection.apply(UnsafeBufferPointer(start: hFull, count: active * hidden), rows: active,
                                             into: UnsafeMutableBufferPointer(start: h, count: active * out),
                                             workspace: &scratch.pointee)
                        }
                        // A split layer has no projection: its elements are its output columns.
                        let columns = projecting ? 0..<out : elements
                        for k in 0..<active {
                            (output + (first + k) * layerOutWidth + direction * out + columns.lowerBound)
                                .update(from: h + k * out + columns.lowerBound, count: columns.count)
                        }
                    }
                }

                // Thread 0 waited for the last phase: every half is finished.
                guard thread ?? 0 == 0 else { return }
                for k in 0..<batch {
                    let element = plan.element(k)
                    (b.hN + (stateIndex * batch + element) * out).update(from: h + k * out, count: out)
                    if let cN = b.cN {
                        (cN + (stateIndex * batch + element) * hidden).update(from: c + k * hidden, count: hidden)
                    }
                }
            }

            if lanes == 2 && directions == 2 {
                Parallelism.run(2) { direction in runDirection(direction, lane: direction) }
            } else if lanes == 2, let split = rowSplit(layer: layer, batch: batch) {
                // The helper joins if it can; the calling thread alone completes the layer otherwise.
                // A one-step call (streaming) does not wait for a sleeping helper to wake.
                ws.phases.run(wakeHelper: steps > 1) { thread in runDirection(0, lane: 0, thread: thread, split: split) }
            } else {
                for direction in 0..<directions { runDirection(direction, lane: 0) }
            }
            swap(&bufferA, &bufferB)
        }

        // Scatter the last layer's output back to (T, B) or (B, T); padding stays zero.
        if let output = b.output, !wroteOutput {
            for t in 0..<steps {
                for k in 0..<plan.activeRows(at: t) {
                    let element = plan.element(k)
                    let target = output + (b.batchFirst ? element * steps + t : t * batch + element) * layerOutWidth
                    target.update(from: bufferA + (plan.firstToken(at: t) + k) * layerOutWidth, count: layerOutWidth)
                }
            }
        }
    }
}
