/// Bounds on what a pickle may build.
public struct PickleLimits: Sendable, Hashable {
    /// Largest pickle accepted, in bytes.
    public var maxPickleBytes: Int
    /// Longest string or bytes object.
    public var maxStringBytes: Int
    /// Most values on the stack at once.
    public var maxStackDepth: Int
    /// Most open MARKs at once.
    public var maxMarks: Int
    /// Most memo entries.
    public var maxMemo: Int
    /// Most containers (tuples, lists, dicts, objects) built in all.
    public var maxContainers: Int
    /// Deepest container nesting that readers of the result will follow.
    public var maxNesting: Int
    /// Most container visits while searching the result: each list and dict is visited once,
    /// but tuples are values and a shared tuple is visited once per reference.
    public var maxVisits: Int

    public init(maxPickleBytes: Int = 32 << 20, maxStringBytes: Int = 16 << 20, maxStackDepth: Int = 1 << 20,
                maxMarks: Int = 1024, maxMemo: Int = 1 << 22, maxContainers: Int = 1 << 23, maxNesting: Int = 100,
                maxVisits: Int = 1 << 23) {
        self.maxPickleBytes = maxPickleBytes
        self.maxStringBytes = maxStringBytes
        self.maxStackDepth = maxStackDepth
        self.maxMarks = maxMarks
        self.maxMemo = maxMemo
        self.maxContainers = maxContainers
        self.maxNesting = maxNesting
        self.maxVisits = maxVisits
    }
}

/// A pickle reader that builds plain values only and never executes or imports anything.
///
/// It is an iterative stack machine over the opcodes of protocols 2 to 5 that `torch.save`
/// emits. Globals are resolved through the fixed allow-list of `PickleGlobal`; any other
/// global, and opcodes that would reach Python's import machinery or out-of-band buffers
/// (`INST`, `OBJ`, `EXT*`, `NEXT_BUFFER`, ...), are refused by name. Persistent ids must be
/// PyTorch storage references; tensors are described (storage, offset, size, stride) and their
/// views validated against the storage's declared size, without reading any data.
final class Unpickler {
    let bytes: [UInt8]
    /// The file as the user named it and the pickle's member name, for messages.
    let file: String
    let member: String
    let limits: PickleLimits
    /// Accept any persistent id as an opaque value (scanning legacy checkpoints, whose
    /// storages are not read).
    var opaquePersistentIDs = false

    // The machine's state is only touched from `run`, one access at a time; dynamic exclusivity
    // checks on every opcode would cost more than the opcode itself.
    @exclusivity(unchecked) private(set) var position = 0
    @exclusivity(unchecked) private var stack: [PickleValue] = []
    @exclusivity(unchecked) private var marks: [Int] = []
    @exclusivity(unchecked) private var memo: [Int: PickleValue] = [:]
    @exclusivity(unchecked) private var graph = PickleGraph()
    @exclusivity(unchecked) private var storages: [String: TorchStorageRef] = [:]
    @exclusivity(unchecked) private var opcodeStart = 0

    init(bytes: [UInt8], start: Int = 0, file: String, member: String, limits: PickleLimits = PickleLimits()) {
        self.bytes = bytes
        self.position = start
        self.file = file
        self.member = member
        self.limits = limits
    }

    /// Runs the machine to STOP.
    /// - Returns: the graph of built values (root and containers).
    /// - Throws: `RNNFormatError` `.refusedPickle` for a global or opcode outside the allow-list,
    ///   `.malformed` for a broken or over-limit pickle, `.truncated` when it ends early.
    static func load(_ bytes: [UInt8], file: String, member: String, limits: PickleLimits = PickleLimits()) throws -> PickleGraph {
        guard bytes.count <= limits.maxPickleBytes else {
            throw RNNFormatError(.refused, file: file, object: member,
                                 "pickle of \(bytes.count) bytes exceeds the limit of \(limits.maxPickleBytes)")
        }
        return try Unpickler(bytes: bytes, file: file, member: member, limits: limits).run()
    }

    /// Runs the first `count` pickles stored back to back in `bytes` (a legacy checkpoint's
    /// magic number, version, system info and object), refusing globals exactly as `load` does.
    static func scan(_ bytes: [UInt8], count: Int, file: String, limits: PickleLimits = PickleLimits()) throws {
        var start = 0
        for n in 0..<count {
            let machine = Unpickler(bytes: bytes, start: start, file: file, member: "pickle \(n + 1)", limits: limits)
            machine.opaquePersistentIDs = true
            _ = try machine.run()
            start = machine.position
        }
    }

    // MARK: errors

    private func malformed(_ message: String) -> RNNFormatError {
        RNNFormatError(.malformed, file: file, object: member, "pickle: \(message) (opcode at byte \(opcodeStart))")
    }

    private func refusedGlobal(_ module: String, _ name: String) -> RNNFormatError {
        RNNFormatError(.refusedPickle, file: file,
                       "refusing pickle global '\(module).\(name)' (\(member) byte \(opcodeStart)); only plain data and PyTorch tensors are read, nothing is executed")
    }

    private func refusedOpcode(_ opcode: UInt8, _ name: String) -> RNNFormatError {
        RNNFormatError(.refusedPickle, file: file,
                       "refusing pickle opcode \(name) (0x\(String(opcode, radix: 16))) at \(member) byte \(opcodeStart); it is not used by torch.save and could reach Python's import machinery")
    }

    // MARK: input

    private func truncated(_ n: Int) -> RNNFormatError {
        RNNFormatError(.truncated, file: file, object: member,
                       "truncated pickle: it ends at byte \(bytes.count) inside an opcode or before STOP (\(n) more bytes needed at byte \(position))")
    }

    private func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - position else { throw truncated(n) }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    private func byte() throws -> UInt8 {
        guard position < bytes.count else { throw truncated(1) }
        defer { position += 1 }
        return bytes[position]
    }

    /// A little-endian unsigned integer of `n` (at most 8) bytes.
    private func unsigned(_ n: Int) throws -> UInt64 {
        guard n <= bytes.count - position else { throw truncated(n) }
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += n
        return v
    }

    private func length(_ n: Int) throws -> Int {
        let raw = try unsigned(n)
        guard raw <= UInt64(limits.maxStringBytes) else {
            throw RNNFormatError(.refused, file: file, object: member,
                                 "pickle string of \(raw) bytes exceeds the limit of \(limits.maxStringBytes) (opcode at byte \(opcodeStart))")
        }
        return Int(raw)
    }

    private func line() throws -> String {
        guard let end = bytes[position...].prefix(1024).firstIndex(of: 0x0A) else {
            throw malformed("text argument without a newline within 1024 bytes")
        }
        let text = bytes[position..<end]
        position = end + 1
        guard let s = String(validatingUTF8Bytes: text) else { throw malformed("text argument is not UTF-8") }
        return s
    }

    private func utf8(_ slice: ArraySlice<UInt8>) throws -> String {
        guard let s = String(validatingUTF8Bytes: slice) else { throw malformed("string is not valid UTF-8") }
        return s
    }

    // MARK: stack

    private var base: Int { marks.last ?? 0 }

    private func push(_ value: PickleValue) throws {
        guard stack.count < limits.maxStackDepth else {
            throw RNNFormatError(.refused, file: file, object: member, "pickle stack exceeds \(limits.maxStackDepth) values")
        }
        stack.append(value)
    }

    private func pop() throws -> PickleValue {
        guard stack.count > base else { throw malformed("stack underflow") }
        return stack.removeLast()
    }

    private func top() throws -> PickleValue {
        guard stack.count > base, let last = stack.last else { throw malformed("stack underflow") }
        return last
    }

    private func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw malformed("no MARK on the stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func memoize(_ index: Int, _ value: PickleValue) throws {
        guard index >= 0 else { throw malformed("negative memo index") }
        if memo[index] == nil && memo.count >= limits.maxMemo {
            throw RNNFormatError(.refused, file: file, object: member, "pickle memo exceeds \(limits.maxMemo) entries")
        }
        memo[index] = value
    }

    private func recall(_ index: Int) throws -> PickleValue {
        guard let v = memo[index] else { throw malformed("memo index \(index) was never stored") }
        return v
    }

    @exclusivity(unchecked) private var containers = 0

    private func countContainer() throws {
        containers += 1
        guard containers <= limits.maxContainers else {
            throw RNNFormatError(.refused, file: file, object: member, "pickle builds more than \(limits.maxContainers) containers")
        }
    }

    private func newTuple(_ items: [PickleValue]) throws -> PickleValue {
        try countContainer()
        graph.tuples.append(items)
        return .tuple(graph.tuples.count - 1)
    }

    private func newList(_ items: [PickleValue]) throws -> PickleValue {
        try countContainer()
        graph.lists.append(items)
        return .list(graph.lists.count - 1)
    }

    private func newDict(ordered: Bool) throws -> PickleValue {
        try countContainer()
        graph.dicts.append(PickleDict(ordered: ordered))
        return .dict(graph.dicts.count - 1)
    }

    private func setItems(_ target: PickleValue, _ items: ArraySlice<PickleValue>) throws {
        guard case .dict(let id) = target else { throw malformed("SETITEM(S) on a \(target.kindName), expected a dict") }
        guard items.count % 2 == 0 else { throw malformed("SETITEMS with an odd number of items") }
        var i = items.startIndex
        while i < items.endIndex {
            graph.dicts[id].set(items[i], items[i + 1])
            i += 2
        }
    }

    private func appendItems(_ target: PickleValue, _ items: [PickleValue]) throws {
        guard case .list(let id) = target else { throw malformed("APPEND(S) on a \(target.kindName), expected a list") }
        graph.lists[id].append(contentsOf: items)
    }

    // MARK: machine

    private func run() throws -> PickleGraph {
        while true {
            opcodeStart = position
            let op = try byte()
            switch op {
            case 0x80: // PROTO
                let v = try byte()
                guard v <= 5 else { throw malformed("unknown protocol \(v)") }
            case 0x95: // FRAME: framing is advisory; the length is checked and skipped over.
                let n = try unsigned(8)
                guard n <= UInt64(bytes.count - position) else { throw malformed("FRAME of \(n) bytes passes the end of the pickle") }
            case 0x2E: // STOP
                graph.root = try pop()
                graph.storages = storages
                return graph
            // Constants and numbers.
            case 0x4E: try push(.none)                                      // NONE
            case 0x88: try push(.bool(true))                                // NEWTRUE
            case 0x89: try push(.bool(false))                               // NEWFALSE
            case 0x4B: try push(.int(Int(try unsigned(1))))                 // BININT1
            case 0x4D: try push(.int(Int(try unsigned(2))))                 // BININT2
            case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try unsigned(4)))))  // BININT
            case 0x8A: try push(try long(Int(try unsigned(1))))             // LONG1
            case 0x8B:                                                      // LONG4
                let n = try unsigned(4)
                guard n <= 1024 else { throw malformed("LONG4 of \(n) bytes") }
                try push(try long(Int(n)))
            case 0x47:                                                      // BINFLOAT (big-endian)
                var v: UInt64 = 0
                for b in try take(8) { v = v << 8 | UInt64(b) }
                try push(.float(Double(bitPattern: v)))
            // Strings and bytes.
            case 0x58: try push(.string(try utf8(try take(try length(4)))))  // BINUNICODE
            case 0x8C: try push(.string(try utf8(try take(try length(1)))))  // SHORT_BINUNICODE
            case 0x8D: try push(.string(try utf8(try take(try length(8)))))  // BINUNICODE8
            case 0x54, 0x55:                                                // BINSTRING, SHORT_BINSTRING
                let raw = try take(try length(op == 0x54 ? 4 : 1))
                try push((try? utf8(raw)).map { .string($0) } ?? .bytes(Array(raw)))
            case 0x42: try push(.bytes(Array(try take(try length(4)))))    // BINBYTES
            case 0x43: try push(.bytes(Array(try take(try length(1)))))    // SHORT_BINBYTES
            case 0x8E, 0x96: try push(.bytes(Array(try take(try length(8)))))  // BINBYTES8, BYTEARRAY8
            // Containers.
            case 0x29: try push(try newTuple([]))                               // EMPTY_TUPLE
            case 0x85: try push(try newTuple([try pop()]))                      // TUPLE1
            case 0x86:                                                      // TUPLE2
                let b = try pop(), a = try pop()
                try push(try newTuple([a, b]))
            case 0x87:                                                      // TUPLE3
                let c = try pop(), b = try pop(), a = try pop()
                try push(try newTuple([a, b, c]))
            case 0x74: try push(try newTuple(try popMark()))                    // TUPLE
            case 0x5D: try push(try newList([]))                                // EMPTY_LIST
            case 0x6C: try push(try newList(try popMark()))                     // LIST
            case 0x7D: try push(try newDict(ordered: false))                    // EMPTY_DICT
            case 0x64:                                                      // DICT
                let items = try popMark()
                let d = try newDict(ordered: false)
                try setItems(d, items[...])
                try push(d)
            case 0x8F: try push(try newList([]))                                // EMPTY_SET (kept as a list)
            case 0x91: try push(try newTuple(try popMark()))                    // FROZENSET (kept as a tuple)
            case 0x61:                                                      // APPEND
                let v = try pop()
                guard case .list(let id) = try top() else { throw malformed("APPEND on a \(try top().kindName), expected a list") }
                graph.lists[id].append(v)
            case 0x65, 0x90:                                                // APPENDS, ADDITEMS
                let items = try popMark()
                try appendItems(try top(), items)
            case 0x73:                                                      // SETITEM
                let v = try pop(), k = try pop()
                try setItems(try top(), [k, v])
            case 0x75:                                                      // SETITEMS
                let items = try popMark()
                try setItems(try top(), items[...])
            // Stack manipulation.
            case 0x28:                                                      // MARK
                guard marks.count < limits.maxMarks else {
                    throw RNNFormatError(.refused, file: file, object: member, "pickle nesting too deep: more than \(limits.maxMarks) open MARKs")
                }
                marks.append(stack.count)
            case 0x30:                                                      // POP
                if stack.count > base { stack.removeLast() } else { _ = try popMark() }
            case 0x31: _ = try popMark()                                    // POP_MARK
            case 0x32: try push(try top())                                  // DUP
            // Memo.
            case 0x68: try push(try recall(Int(try unsigned(1))))           // BINGET
            case 0x6A: try push(try recall(Int(try unsigned(4))))           // LONG_BINGET
            case 0x67: try push(try recall(try decimal(try line())))        // GET
            case 0x71: try memoize(Int(try unsigned(1)), try top())         // BINPUT
            case 0x72: try memoize(Int(try unsigned(4)), try top())         // LONG_BINPUT
            case 0x70: try memoize(try decimal(try line()), try top())      // PUT
            case 0x94: try memoize(memo.count, try top())                   // MEMOIZE
            // Globals and object construction.
            case 0x63:                                                      // GLOBAL
                let module = try line(), name = try line()
                try push(try global(module, name))
            case 0x93:                                                      // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case .string(let n) = name, case .string(let m) = module else {
                    throw malformed("STACK_GLOBAL needs two strings, found \(module.kindName) and \(name.kindName)")
                }
                try push(try global(m, n))
            case 0x52:                                                      // REDUCE
                let args = try pop(), callable = try pop()
                try push(try reduce(callable, args))
            case 0x81:                                                      // NEWOBJ
                let args = try pop(), cls = try pop()
                try push(try newObject(cls, args))
            case 0x92:                                                      // NEWOBJ_EX
                let kwargs = try pop(), args = try pop(), cls = try pop()
                if case .dict(let id) = kwargs, !graph.dicts[id].entries.isEmpty {
                    throw malformed("NEWOBJ_EX with keyword arguments")
                }
                try push(try newObject(cls, args))
            case 0x62:                                                      // BUILD
                let state = try pop()
                try build(try top(), state)
            case 0x51:                                                      // BINPERSID
                let pid = try pop()
                try push(try persistentLoad(pid))
            // Refused: reach the import machinery, extension registry or out-of-band buffers.
            case 0x69: throw refusedOpcode(op, "INST")
            case 0x6F: throw refusedOpcode(op, "OBJ")
            case 0x82: throw refusedOpcode(op, "EXT1")
            case 0x83: throw refusedOpcode(op, "EXT2")
            case 0x84: throw refusedOpcode(op, "EXT4")
            case 0x97: throw refusedOpcode(op, "NEXT_BUFFER")
            case 0x98: throw refusedOpcode(op, "READONLY_BUFFER")
            case 0x50: throw refusedOpcode(op, "PERSID")
            case 0x49: throw refusedOpcode(op, "INT (protocol 0)")
            case 0x4C: throw refusedOpcode(op, "LONG (protocol 0)")
            case 0x46: throw refusedOpcode(op, "FLOAT (protocol 0)")
            case 0x53: throw refusedOpcode(op, "STRING (protocol 0)")
            case 0x56: throw refusedOpcode(op, "UNICODE (protocol 0)")
            default:
                throw malformed("unknown opcode 0x\(String(op, radix: 16))")
            }
        }
    }

    private func decimal(_ text: String) throws -> Int {
        guard let v = Int(text), v >= 0 else { throw malformed("bad memo index '\(text.prefix(32))'") }
        return v
    }

    /// LONG1/LONG4: little-endian two's complement of `n` bytes.
    private func long(_ n: Int) throws -> PickleValue {
        let raw = try take(n)
        if n == 0 { return .int(0) }
        if n > 8 {
            // Values that still fit 64 bits after sign extension are rare; keep them as big.
            return .bigInt
        }
        var v: UInt64 = 0
        for (i, b) in raw.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        if n < 8 && raw.last! & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(n)) }
        return .int(Int(Int64(bitPattern: v)))
    }

    private func global(_ module: String, _ name: String) throws -> PickleValue {
        guard let g = PickleGlobal.resolve(module: module, name: name) else {
            throw refusedGlobal(module, name)
        }
        return .global(g)
    }

    // MARK: allow-listed constructors

    private func integer(_ v: PickleValue, _ what: String) throws -> Int {
        guard case .int(let i) = v else { throw malformed("\(what): expected an int, found \(v.kindName)") }
        return i
    }

    private func integers(_ v: PickleValue, _ what: String) throws -> [Int] {
        guard let items = graph.sequence(v) else { throw malformed("\(what): expected a tuple of ints, found \(v.kindName)") }
        return try items.map { try integer($0, what) }
    }

    private func arguments(_ args: PickleValue, _ function: String, count: ClosedRange<Int>) throws -> [PickleValue] {
        guard case .tuple(let id) = args else { throw malformed("\(function): arguments are a \(args.kindName), expected a tuple") }
        let items = graph.tuples[id]
        guard count.contains(items.count) else {
            throw malformed("\(function): expected \(count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound) to \(count.upperBound)") arguments, found \(items.count)")
        }
        return items
    }

    /// Builds a tensor view after checking it against its storage.
    private func tensor(_ function: String, storage: PickleValue, offset: PickleValue, size: PickleValue, stride: PickleValue,
                        quantization: TorchQuantization?) throws -> PickleValue {
        guard case .storage(let s) = storage else { throw malformed("\(function): expected a storage, found \(storage.kindName)") }
        let off = try integer(offset, "\(function) storage_offset")
        let shape = try integers(size, "\(function) size")
        let strides = try integers(stride, "\(function) stride")
        if let problem = TorchTensorRef.viewProblem(storage: s, offset: off, shape: shape, strides: strides) {
            throw RNNFormatError(.malformed, file: file, object: "\(member) storage \(s.key)",
                                 "tensor view out of range: \(problem) (opcode at byte \(opcodeStart))")
        }
        guard s.dtype.isQuantized == (quantization != nil) else {
            throw malformed("\(function) on a \(s.dtype.rawValue): quantized storages need _rebuild_qtensor and vice versa")
        }
        return .tensor(TorchTensorRef(storage: s, offset: off, shape: shape, strides: strides,
                                      quantization: quantization.map(TorchTensorRef.QuantizationBox.init)))
    }

    private func reduce(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
        guard case .global(let g) = callable else {
            throw malformed("REDUCE on a \(callable.kindName), expected an allow-listed function")
        }
        switch g {
        case .orderedDict:
            let a = try arguments(args, "OrderedDict", count: 0...1)
            let d = try newDict(ordered: true)
            if let source = a.first {
                guard let pairs = graph.sequence(source) else { throw malformed("OrderedDict(...) expects a list of pairs") }
                for pair in pairs {
                    guard let kv = graph.sequence(pair), kv.count == 2 else { throw malformed("OrderedDict(...) item is not a pair") }
                    try setItems(d, kv[...])
                }
            }
            return d
        case .rebuildTensorV2, .rebuildTensor:
            let name = g == .rebuildTensor ? "_rebuild_tensor" : "_rebuild_tensor_v2"
            let a = try arguments(args, name, count: g == .rebuildTensor ? 4...4 : 6...7)
            return try tensor(name, storage: a[0], offset: a[1], size: a[2], stride: a[3], quantization: nil)
        case .rebuildParameter:
            let a = try arguments(args, "_rebuild_parameter", count: 3...3)
            guard case .tensor = a[0] else { throw malformed("_rebuild_parameter: expected a tensor, found \(a[0].kindName)") }
            return a[0]
        case .rebuildQTensor:
            let a = try arguments(args, "_rebuild_qtensor", count: 7...7)
            guard let params = graph.sequence(a[4]), let first = params.first, case .global(.qscheme(let scheme)) = first else {
                throw malformed("_rebuild_qtensor: quantizer parameters must start with a torch qscheme")
            }
            let quantization: TorchQuantization
            switch scheme {
            case .perTensorAffine:
                guard params.count == 3, case .float(let scale) = params[1] else {
                    throw malformed("_rebuild_qtensor: per_tensor_affine needs (qscheme, scale, zero_point)")
                }
                quantization = .perTensorAffine(scale: scale, zeroPoint: try integer(params[2], "zero_point"))
            case .perChannelAffine:
                guard params.count == 4, case .tensor(let scales) = params[1], case .tensor(let zeroPoints) = params[2] else {
                    throw malformed("_rebuild_qtensor: per_channel_affine needs (qscheme, scales, zero_points, axis)")
                }
                quantization = .perChannelAffine(scales: scales, zeroPoints: zeroPoints, axis: try integer(params[3], "axis"))
            }
            return try tensor("_rebuild_qtensor", storage: a[0], offset: a[1], size: a[2], stride: a[3], quantization: quantization)
        case .device:
            let a = try arguments(args, "torch.device", count: 1...2)
            guard case .string(let s) = a[0] else { throw malformed("torch.device: expected a string") }
            return .string(s)
        case .codecsEncode:
            let a = try arguments(args, "_codecs.encode", count: 2...2)
            guard case .string(let s) = a[0], case .string(let encoding) = a[1], encoding == "latin1" || encoding == "latin-1" else {
                throw malformed("_codecs.encode: only (str, 'latin1') is accepted")
            }
            var out: [UInt8] = []
            for scalar in s.unicodeScalars {
                guard scalar.value <= 0xFF else { throw malformed("_codecs.encode: character beyond latin1") }
                out.append(UInt8(scalar.value))
            }
            return .bytes(out)
        case .restoreTypeTag:
            let a = try arguments(args, g.dottedName, count: 2...2)
            guard case .string = a[1] else { throw malformed("\(g.dottedName): expected a type name, found \(a[1].kindName)") }
            return a[0]
        case .buildList:
            let a = try arguments(args, g.dottedName, count: 1...1)
            guard case .list = a[0] else { throw malformed("\(g.dottedName): expected a list, found \(a[0].kindName)") }
            return a[0]
        case .storageType, .qscheme, .scriptObject, .dtype, .torchScriptClass:
            throw malformed("REDUCE on \(g.dottedName), which is not callable here")
        }
    }

    /// NEWOBJ builds nothing but the empty `torch.ScriptObject` that quantized modules pickle,
    /// and inert records of TorchScript classes.
    private func newObject(_ cls: PickleValue, _ args: PickleValue) throws -> PickleValue {
        if case .global(.torchScriptClass(let name)) = cls {
            guard case .tuple(let id) = args, graph.tuples[id].isEmpty else { throw malformed("NEWOBJ of \(name) with arguments") }
            try countContainer()
            graph.records.append((name, nil))
            return .record(graph.records.count - 1)
        }
        guard case .global(.scriptObject) = cls else {
            throw RNNFormatError(.refusedPickle, file: file,
                                 "refusing NEWOBJ of \(cls.globalName ?? "a " + cls.kindName) (\(member) byte \(opcodeStart)); only torch.ScriptObject is constructed that way")
        }
        guard case .tuple(let id) = args, graph.tuples[id].isEmpty else { throw malformed("NEWOBJ of torch.ScriptObject with arguments") }
        try countContainer()
        graph.scriptObjects.append(nil)
        return .scriptObject(graph.scriptObjects.count - 1)
    }

    private func build(_ target: PickleValue, _ state: PickleValue) throws {
        switch target {
        case .scriptObject(let id):
            guard graph.scriptObjects[id] == nil else { throw malformed("BUILD on a torch.ScriptObject that already has a state") }
            graph.scriptObjects[id] = state
        case .record(let id):
            guard graph.records[id].state == nil else { throw malformed("BUILD on a \(graph.records[id].className) that already has a state") }
            graph.records[id].state = state
        case .dict:
            // An OrderedDict's instance attributes (a state_dict's `_metadata`): not needed.
            break
        case .global:
            throw RNNFormatError(.refusedPickle, file: file,
                                 "refusing BUILD on the class \(target.globalName ?? "") itself (\(member) byte \(opcodeStart)); BUILD may only set the state of an object")
        default:
            throw malformed("BUILD on a \(target.kindName)")
        }
    }

    /// `torch.save`'s persistent ids: ('storage', <Type>Storage, key, location, numel).
    private func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        if opaquePersistentIDs {
            // Legacy ids ('storage', <Type>Storage, key, location, numel, view): a storage of
            // unbounded size stands in, so that tensors still rebuild and scanning continues.
            var dtype = TorchDType.float32
            if case .tuple(let id) = pid, graph.tuples[id].count > 1, case .global(.storageType(let t)) = graph.tuples[id][1] { dtype = t }
            return .storage(TorchStorageRef(key: "legacy", dtype: dtype, count: Int.max))
        }
        guard case .tuple(let id) = pid, case let t = graph.tuples[id], t.count == 5, case .string("storage") = t[0],
              case .global(.storageType(let dtype)) = t[1], case .string(let key) = t[2], case .string = t[3],
              case .int(let count) = t[4]
        else {
            throw malformed("persistent id is not ('storage', <Type>Storage, key, location, numel)")
        }
        guard count >= 0, !key.isEmpty, key.utf8.count <= 256 else {
            throw malformed("storage reference with key '\(key.prefix(64))' and \(count) elements")
        }
        let ref = TorchStorageRef(key: key, dtype: dtype, count: count)
        if let known = storages[key], known != ref {
            throw malformed("storage \(key) referenced as \(known.dtype.rawValue)[\(known.count)] and as \(dtype.rawValue)[\(count)]")
        }
        storages[key] = ref
        return .storage(ref)
    }
}
