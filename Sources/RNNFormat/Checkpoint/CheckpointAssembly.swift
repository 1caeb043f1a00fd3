/// Turns the tensor dicts of a checkpoint into modules and leftovers with one naming rule.
///
/// A module's path is its dotted prefix inside the state_dict that holds it. When modules are
/// found in more than one state_dict of the same file (say `{"model": ..., "ema": ...}`), each
/// path is prefixed with the key path of its state_dict so that they stay distinct. Tensors of
/// state_dicts without modules (optimizer state, ...) are named by their full key path.
enum CheckpointAssembly {
    /// The tensors of one state_dict.
    struct Namespace {
        /// Key path from the file's root to the dict (empty for a bare state_dict).
        var outerPath: [String]
        /// RNN-named tensors (and unpacked quantized weights), materialized, by key.
        var candidates: [String: Parameter]
        /// Every tensor key of the dict in order, with a short description for messages.
        var keys: [(key: String, description: String)]
    }

    /// - Throws: `RNNFormatError(.moduleNotFound)` listing the tensors seen when no module is found;
    ///   module errors from `ModuleInference`.
    static func assemble(_ namespaces: [Namespace], looseTensors: [String] = [], options: InferenceOptions, file: String,
                         metadata: FileMetadata) throws -> ModelFile {
        var assemblies: [ModuleInference.Assembly] = []
        for namespace in namespaces {
            assemblies.append(try ModuleInference.assemble(namespace.candidates, options: options, file: file, naming: .stateDict))
        }
        let bearing = assemblies.filter { !$0.modules.isEmpty }.count
        guard bearing > 0 else {
            let seen = namespaces.flatMap { ns in ns.keys.map { (join(ns.outerPath, $0.key), $0.description) } }
            let listed = seen.prefix(24).map { "\($0.0) \($0.1)" }.joined(separator: ", ")
            throw RNNFormatError(.moduleNotFound, file: file,
                                 "no RNN module (GRU, LSTM, RNN or their cells) found; \(seen.count) tensor(s) seen" + (seen.isEmpty ? "" : ": " + listed + (seen.count > 24 ? ", ..." : "")))
        }
        var modules: [ModuleRecord] = []
        var leftovers: [String] = []
        for (namespace, assembly) in zip(namespaces, assemblies) {
            let outer = assembly.modules.isEmpty || bearing > 1 ? namespace.outerPath : []
            let taken = Set(assembly.modules.flatMap { m in m.parameters.keys.map { ObjectNaming.stateDict.name(prefix: m.path, $0) } })
            let modulePaths = Set(assembly.modules.map(\.path))
            for var module in assembly.modules {
                module.path = join(outer, module.path)
                modules.append(module)
            }
            for (key, _) in namespace.keys where !taken.contains(key) && !isPackedSource(key, modulePaths: modulePaths) {
                leftovers.append(join(outer, key))
            }
        }
        leftovers.append(contentsOf: looseTensors)
        var paths = Set<String>()
        for module in modules where !paths.insert(module.path).inserted {
            throw RNNFormatError(.malformed, file: file, object: module.path, "two state_dicts yield a module at the same path")
        }
        return ModelFile(metadata: metadata, modules: modules.sorted { $0.path < $1.path }, leftovers: leftovers.sorted())
    }

    /// Packed quantized keys were unpacked into parameters of a module: they are not leftovers.
    private static func isPackedSource(_ key: String, modulePaths: Set<String>) -> Bool {
        guard let prefix = QuantizedCheckpoint.packedPrefix(key) else { return false }
        return modulePaths.contains(prefix)
    }

    static func join(_ outer: [String], _ key: String) -> String {
        (outer + (key.isEmpty ? [] : [key])).joined(separator: ".")
    }
}
