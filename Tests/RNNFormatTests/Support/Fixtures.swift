import Foundation
import RNNFormat
import _RNNKitTestSupport

/// The committed fixtures (tools/make_fixtures.py; layout in fixtures/README.md).
enum Fixtures {
    static let repositoryRoot = Repository.root

    /// `fixtures/` of the repository, or `RNNKIT_FIXTURES` when set.
    static let root: String = ProcessInfo.processInfo.environment["RNNKIT_FIXTURES"] ?? repositoryRoot + "/fixtures"

    /// One module a case describes.
    struct Module: Sendable, CustomStringConvertible {
        var prefix: String
        var config: ModuleConfig
        var description: String { prefix }
    }

    /// One case directory of fixtures/float or fixtures/quant.
    struct Case: Sendable, CustomStringConvertible {
        var directory: String
        var name: String
        var dtype: ElementType
        var modules: [Module]
        var extraKeys: [String]
        var files: [String: String]
        var description: String { name }

        func file(_ key: String) -> String? { files[key].map { directory + "/" + $0 } }
    }

    /// Float and quantized cases listed in fixtures/index.json; empty when fixtures are absent
    /// (`indexIsPresent` fails then).
    static let cases: [Case] = {
        guard let data = FileManager.default.contents(atPath: root + "/index.json"),
              let index = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [] }
        let names = ((index["float"] as? [String]) ?? []) + ((index["quant"] as? [String]) ?? [])
        return names.compactMap { load(root + "/" + $0) }
    }()

    private static func load(_ directory: String) -> Case? {
        guard let data = FileManager.default.contents(atPath: directory + "/case.json"),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let name = json["name"] as? String, let dtypeName = json["dtype"] as? String,
              let dtype = ElementType(rawValue: dtypeName)
        else { return nil }
        let moduleJSON = (json["modules"] as? [[String: Any]]) ?? [json]
        let modules = moduleJSON.compactMap { m -> Module? in
            guard let prefix = m["prefix"] as? String, let kindName = m["module"] as? String,
                  let kind = ModuleKind(rawValue: kindName), let c = m["config"] as? [String: Any]
            else { return nil }
            return Module(prefix: prefix, config: ModuleConfig(
                kind: kind, inputSize: c["input_size"] as? Int ?? 0, hiddenSize: c["hidden_size"] as? Int ?? 0,
                numLayers: c["num_layers"] as? Int ?? 1, bias: c["bias"] as? Bool ?? true,
                batchFirst: c["batch_first"] as? Bool ?? false, dropout: c["dropout"] as? Double ?? 0,
                bidirectional: c["bidirectional"] as? Bool ?? false, projSize: c["proj_size"] as? Int ?? 0,
                nonlinearity: Nonlinearity(rawValue: c["nonlinearity"] as? String ?? "tanh") ?? .tanh))
        }
        return Case(directory: directory, name: name, dtype: dtype, modules: modules,
                    extraKeys: json["extra_keys"] as? [String] ?? [], files: json["files"] as? [String: String] ?? [:])
    }
}
