/// Finds the state_dicts in an unpickled checkpoint: every dict that directly holds tensors
/// (or PyTorch script objects, as quantized modules store), wherever it is nested.
///
/// The walk is iterative, visits each container once (shared references and cycles are
/// followed once, so the work is linear in the pickle's size), stops at `maxNesting` levels,
/// and counts visits against `maxVisits` as a backstop.
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
        // Paths are kept as parent links so that a visit costs O(1) whatever the depth.
        var components: [(parent: Int, name: String)] = []
        func path(_ node: Int) -> [String] {
            var out: [String] = []
            var n = node
            while n >= 0 {
                out.append(components[n].name)
                n = components[n].parent
            }
            return out.reversed()
        }
        var seenTuples = Set<Int>()
        var seenLists = Set<Int>()
        var seenDicts = Set<Int>()
        var seenRecords = Set<Int>()
        var visits = 0
        var pending: [(value: PickleValue, node: Int, depth: Int)] = [(graph.root, -1, 0)]
        while let (value, node, depth) = pending.popLast() {
            visits += 1
            guard visits <= limits.maxVisits else {
                throw RNNFormatError(.refused, file: file, "checkpoint structure has more than \(limits.maxVisits) nested containers")
            }
            guard depth <= limits.maxNesting else {
                throw RNNFormatError(.refused, file: file, object: path(node).prefix(8).joined(separator: ".") + "...",
                                     "checkpoint nesting too deep: containers nested more than \(limits.maxNesting) levels")
            }
            var children: [(PickleValue, String)] = []
            switch value {
            case .dict(let id):
                guard seenDicts.insert(id).inserted else { continue }
                var tensors: [(key: String, value: PickleValue)] = []
                for (key, child) in graph.dicts[id].entries {
                    guard let name = Self.keyName(key) else { continue }
                    switch child {
                    case .tensor, .scriptObject: tensors.append((name, child))
                    default: if Self.mayHoldTensors(child) { children.append((child, name)) }
                    }
                }
                if !tensors.isEmpty { tensorDicts.append(TensorDict(outerPath: path(node), entries: tensors)) }
            case .list(let id):
                guard seenLists.insert(id).inserted else { continue }
                for (i, child) in graph.lists[id].enumerated() where Self.mayHoldTensors(child) { children.append((child, String(i))) }
            case .tuple(let id):
                guard seenTuples.insert(id).inserted else { continue }
                for (i, child) in graph.tuples[id].enumerated() where Self.mayHoldTensors(child) { children.append((child, String(i))) }
            case .record(let id):
                // A TorchScript module tree, read as its `state_dict()` would be: every tensor
                // attribute of every submodule, keyed by attribute path
                // (`_model.decoder.rnn.weight_ih_l0`).
                guard seenRecords.insert(id).inserted else { continue }
                var entries: [(key: String, value: PickleValue)] = []
                try Self.flatten(record: id, prefix: "", graph: graph, depth: depth, limits: limits, file: file,
                                 seen: &seenRecords, visits: &visits, into: &entries)
                if !entries.isEmpty { tensorDicts.append(TensorDict(outerPath: path(node), entries: entries)) }
            case .tensor, .scriptObject:
                looseTensors.append(path(node).joined(separator: "."))
            default:
                break
            }
            // Reversed so that popping visits children in their stored order.
            for (child, name) in children.reversed() {
                components.append((node, name))
                pending.append((child, components.count - 1, depth + 1))
            }
        }
    }

    /// Collects the tensor attributes of TorchScript record `id` and of the records among its
    /// attributes (its submodules), keys prefixed by the attribute path. Tensors in lists or
    /// dicts (a GRU's `_flat_weights`, which repeats its parameters) are not parameters, as
    /// they are not in `state_dict()`.
    private static func flatten(record id: Int, prefix: String, graph: PickleGraph, depth: Int, limits: PickleLimits, file: String,
                                seen: inout Set<Int>, visits: inout Int, into entries: inout [(key: String, value: PickleValue)]) throws {
        visits += 1
        guard visits <= limits.maxVisits else {
            throw RNNFormatError(.refused, file: file, "checkpoint structure has more than \(limits.maxVisits) nested containers")
        }
        guard depth <= limits.maxNesting else {
            throw RNNFormatError(.refused, file: file, object: String(prefix.prefix(200)),
                                 "checkpoint nesting too deep: TorchScript modules nested more than \(limits.maxNesting) levels")
        }
        guard case .dict(let state) = graph.records[id].state else { return }
        for (key, child) in graph.dicts[state].entries {
            guard let name = keyName(key) else { continue }
            let full = prefix.isEmpty ? name : prefix + "." + name
            switch child {
            case .tensor, .scriptObject:
                entries.append((full, child))
            case .record(let sub):
                guard seen.insert(sub).inserted else { continue }
                try flatten(record: sub, prefix: full, graph: graph, depth: depth + 1, limits: limits, file: file,
                            seen: &seen, visits: &visits, into: &entries)
            default:
                break
            }
        }
    }

    /// Containers and tensors; scalars are not visited.
    private static func mayHoldTensors(_ value: PickleValue) -> Bool {
        switch value {
        case .dict, .list, .tuple, .tensor, .scriptObject, .record: true
        default: false
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
