/// Finds the state_dicts in an unpickled checkpoint: every dict that directly holds tensors
/// (or PyTorch script objects, as quantized modules store), wherever it is nested.
///
/// The walk is iterative, visits each list and dict once (shared references and cycles are
/// followed once), stops at `maxNesting` levels, and counts container visits against
/// `maxVisits` so that a hostile graph of shared tuples cannot make it run for ever.
struct StateDictSearch {
    /// A dict holding tensors, with the key path that leads to it from the root.
    struct TensorDict {
        /// Outer key path (`["model"]` for `{"model": state_dict}`), empty for the root.
        var outerPath: [String]
        /// Entries whose values are tensors or script objects, keys as strings, in order.
        var entries: [(key: String, value: PickleValue)]
    }

    var tensorDicts: [TensorDict] = []
    /// Dotted paths of tensors found outside any dict (inside lists or tuples).
    var looseTensors: [String] = []

    /// Walks `graph` from its root.
    /// - Throws: `RNNFormatError(.refused)` when nesting or visits exceed the limits.
    init(graph: PickleGraph, limits: PickleLimits, file: String) throws {
        var seenLists = Set<Int>()
        var seenDicts = Set<Int>()
        var visits = 0
        var pending: [(value: PickleValue, path: [String])] = [(graph.root, [])]
        while let (value, path) = pending.popLast() {
            visits += 1
            guard visits <= limits.maxVisits else {
                throw RNNFormatError(.refused, file: file, "checkpoint structure has more than \(limits.maxVisits) nested values")
            }
            guard path.count <= limits.maxNesting else {
                throw RNNFormatError(.refused, file: file, object: path.prefix(8).joined(separator: ".") + "...",
                                     "checkpoint nests containers deeper than \(limits.maxNesting) levels")
            }
            var children: [(PickleValue, [String])] = []
            switch value {
            case .dict(let id):
                guard seenDicts.insert(id).inserted else { continue }
                var tensors: [(key: String, value: PickleValue)] = []
                for (key, child) in graph.dicts[id].entries {
                    guard let name = Self.keyName(key) else { continue }
                    switch child {
                    case .tensor, .scriptObject: tensors.append((name, child))
                    default: children.append((child, path + [name]))
                    }
                }
                if !tensors.isEmpty { tensorDicts.append(TensorDict(outerPath: path, entries: tensors)) }
            case .list(let id):
                guard seenLists.insert(id).inserted else { continue }
                children = graph.lists[id].enumerated().map { ($1, path + [String($0)]) }
            case .tuple(let items):
                children = items.enumerated().map { ($1, path + [String($0)]) }
            case .tensor, .scriptObject:
                looseTensors.append(path.joined(separator: "."))
            default:
                break
            }
            // Reversed so that popping visits children in their stored order.
            pending.append(contentsOf: children.reversed())
        }
    }

    /// Dict keys that name a path component: strings and integers (optimizer state uses ints).
    static func keyName(_ key: PickleValue) -> String? {
        switch key {
        case .string(let s): s
        case .int(let i): String(i)
        default: nil
        }
    }
}
