/// The only callables and classes a checkpoint's pickle may name: a fixed switch over
/// (module, name) pairs. Nothing is imported or looked up; every other global is refused.
enum PickleGlobal: Sendable, Hashable {
    case orderedDict
    case rebuildTensorV2
    case rebuildTensor
    case rebuildParameter
    case rebuildQTensor
    case storageType(TorchDType)
    case qscheme(TorchQScheme)
    case scriptObject
    case device
    case codecsEncode
    /// A `torch.<dtype>` singleton (`torch.qint8`, ...), as quantized modules record it.
    case dtype(String)
    /// A TorchScript module class (`__torch__.<qualified name>`, from `torch.jit.save`): never
    /// looked up, imported or run; the name is only a label, and NEWOBJ of it builds an inert
    /// record whose state BUILD fills in.
    case torchScriptClass(String)
    /// `torch.jit._pickle.restore_type_tag(value, type)`: returns `value` (the tag is TorchScript's
    /// static type of a list or dict).
    case restoreTypeTag
    /// `torch.jit._pickle.build_tensorlist` / `build_intlist` / ...: returns the list.
    case buildList(String)

    /// `module.name` as the pickle named it.
    var dottedName: String {
        switch self {
        case .orderedDict: "collections.OrderedDict"
        case .rebuildTensorV2: "torch._utils._rebuild_tensor_v2"
        case .rebuildTensor: "torch._utils._rebuild_tensor"
        case .rebuildParameter: "torch._utils._rebuild_parameter"
        case .rebuildQTensor: "torch._utils._rebuild_qtensor"
        case .storageType(let t): "torch." + t.rawValue
        case .qscheme(let q): "torch." + q.rawValue
        case .scriptObject: "torch.ScriptObject"
        case .device: "torch.device"
        case .codecsEncode: "_codecs.encode"
        case .dtype(let name): "torch." + name
        case .torchScriptClass(let name): name
        case .restoreTypeTag: "torch.jit._pickle.restore_type_tag"
        case .buildList(let name): "torch.jit._pickle." + name
        }
    }

    /// The allow-list. Returns nil for anything not on it.
    static func resolve(module: String, name: String) -> PickleGlobal? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor"): return .rebuildTensor
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._utils", "_rebuild_qtensor"): return .rebuildQTensor
        case ("torch", "per_tensor_affine"): return .qscheme(.perTensorAffine)
        case ("torch", "per_channel_affine"): return .qscheme(.perChannelAffine)
        case ("torch", "ScriptObject"): return .scriptObject
        case ("torch", "device"): return .device
        case ("_codecs", "encode"): return .codecsEncode
        case ("torch", _) where torchDTypeNames.contains(name): return .dtype(name)
        case _ where (module == "__torch__" || module.hasPrefix("__torch__.")) && !name.isEmpty:
            return .torchScriptClass(module + "." + name)
        case ("torch.jit._pickle", "restore_type_tag"): return .restoreTypeTag
        case ("torch.jit._pickle", _) where torchScriptListBuilders.contains(name): return .buildList(name)
        case ("torch", _): return TorchDType(rawValue: name).map { .storageType($0) }
        default: return nil
        }
    }
}

private let torchScriptListBuilders: Set<String> = [
    "build_tensorlist", "build_intlist", "build_doublelist", "build_boollist",
]

private let torchDTypeNames: Set<String> = [
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32", "int",
    "int16", "short", "int8", "uint8", "bool", "qint8", "quint8", "qint32",
]

/// `torch.qscheme` values a quantized tensor may carry.
enum TorchQScheme: String, Sendable, Hashable {
    case perTensorAffine = "per_tensor_affine"
    case perChannelAffine = "per_channel_affine"
}

/// A value built by the unpickler: plain data, allow-listed references, and tensors.
///
/// Containers (tuples, lists, dicts, script objects) live in the `PickleGraph` arena and are
/// referenced by index, so memo sharing and later mutation behave as in Python without
/// reference cycles in Swift memory, and a reader can visit each container once however
/// often it is shared.
enum PickleValue: Sendable, Hashable {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer outside the 64-bit range (only its existence is kept).
    case bigInt
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(Int)
    case list(Int)
    case dict(Int)
    case scriptObject(Int)
    /// An instance of a TorchScript class: an inert record (`PickleGraph.records`).
    case record(Int)
    case global(PickleGlobal)
    // Boxed so that every value stays small: memory stays a small multiple of the pickle's size.
    indirect case storage(TorchStorageRef)
    indirect case tensor(TorchTensorRef)

    /// The dotted name of an allow-listed global, for messages.
    var globalName: String? {
        guard case .global(let g) = self else { return nil }
        return g.dottedName
    }

    /// A short name of the value's kind for messages.
    var kindName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .scriptObject: "torch.ScriptObject"
        case .record: "TorchScript object"
        case .record: "TorchScript object"
        case .global: "class or function"
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }
}

/// Keys a dict indexes for lookup and replacement (Python's `d[k] = v` semantics); other keys
/// are kept in order without deduplication.
enum PickleDictKey: Hashable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case none

    /// Long strings are not indexed so that hashing stays cheap on hostile input.
    init?(_ value: PickleValue) {
        switch value {
        case .string(let s) where s.utf8.count <= 4096: self = .string(s)
        case .int(let i): self = .int(i)
        case .bool(let b): self = .bool(b)
        case .none: self = .none
        default: return nil
        }
    }
}

/// A dict or OrderedDict: entries in insertion order.
struct PickleDict: Sendable {
    private(set) var entries: [(key: PickleValue, value: PickleValue)] = []
    private var index: [PickleDictKey: Int] = [:]
    var isOrdered: Bool

    init(ordered: Bool) { isOrdered = ordered }

    mutating func set(_ key: PickleValue, _ value: PickleValue) {
        if let k = PickleDictKey(key) {
            if let i = index[k] {
                entries[i].value = value
                return
            }
            index[k] = entries.count
        }
        entries.append((key, value))
    }

    subscript(key: String) -> PickleValue? {
        index[.string(key)].map { entries[$0].value }
    }
}

/// Everything a pickle built: the root value and the arena of mutable containers.
struct PickleGraph: Sendable {
    var root: PickleValue = .none
    var tuples: [[PickleValue]] = []
    var lists: [[PickleValue]] = []
    var dicts: [PickleDict] = []
    /// The state each `torch.ScriptObject` received through BUILD (nil until then).
    var scriptObjects: [PickleValue?] = []
    /// TorchScript objects: the class's name (a label) and the state BUILD gave it (a dict of
    /// attributes: submodules, parameters, buffers, flags), nil until then.
    var records: [(className: String, state: PickleValue?)] = []
    /// Every storage the pickle referred to, by key.
    var storages: [String: TorchStorageRef] = [:]

    /// The items of a list or tuple, nil for other values.
    func sequence(_ value: PickleValue) -> [PickleValue]? {
        switch value {
        case .tuple(let id): tuples[id]
        case .list(let id): lists[id]
        default: nil
        }
    }
}
