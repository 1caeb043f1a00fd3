import Foundation
import RNNFormat
import RNNRuntime
import Testing

/// Reads the PyTorch fixtures of `fixtures/` (layout: tools/make_fixtures.py and fixtures/README.md).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures")

    struct Index: Decodable {
        var float: [String]
    }

    struct Config: Decodable {
        var input_size: Int
        var hidden_size: Int
        var num_layers: Int
        var bias: Bool
        var batch_first: Bool
        var dropout: Double
        var bidirectional: Bool
        var proj_size: Int
        var nonlinearity: String
    }

    struct Call: Decodable {
        var name: String
        var input: String
        var h0: String?
        var c0: String?
        var lengths: String?
        var leading: Int
        var output: String?
        var h_n: String
        var c_n: String?
    }

    struct Module: Decodable {
        var prefix: String
        var module: String
        var config: Config
        var calls: [Call]
    }

    struct Case: Decodable {
        var name: String
        var module: String
        var prefix: String
        var config: Config
        var dtype: String
        var calls: [Call]
        var modules: [Module]?

        /// Every module of the case: `modules` when present, else the top-level description.
        var allModules: [Module] {
            modules ?? [Module(prefix: prefix, module: module, config: config, calls: calls)]
        }
    }

    /// One call of one module of one case: a test argument.
    struct CallRef: Sendable, CustomTestStringConvertible, Hashable {
        var caseDirectory: String
        var moduleIndex: Int
        var callName: String
        var testDescription: String { "\(caseDirectory)[\(moduleIndex)].\(callName)" }
    }

    static func index() throws -> Index {
        try JSONDecoder().decode(Index.self, from: Data(contentsOf: root.appendingPathComponent("index.json")))
    }

    static func loadCase(_ directory: String) throws -> Case {
        try JSONDecoder().decode(Case.self, from: Data(contentsOf: root.appendingPathComponent(directory).appendingPathComponent("case.json")))
    }

    /// Every float call, or none when the fixtures are absent (`fixturesArePresent` fails then).
    static var floatCalls: [CallRef] {
        guard let index = try? index() else { return [] }
        return index.float.flatMap { directory -> [CallRef] in
            guard let fixture = try? loadCase(directory) else { return [] }
            return fixture.allModules.enumerated().flatMap { i, module in
                module.calls.map { CallRef(caseDirectory: directory, moduleIndex: i, callName: $0.name) }
            }
        }
    }

    static func path(_ directory: String, _ file: String) -> String {
        root.appendingPathComponent(directory).appendingPathComponent(file).path
    }

    static func moduleConfig(_ module: Module) throws -> ModuleConfig {
        let c = module.config
        guard let kind = ModuleKind(rawValue: module.module), let nonlinearity = Nonlinearity(rawValue: c.nonlinearity) else {
            throw FixtureError("unknown module \(module.module) / \(c.nonlinearity)")
        }
        return ModuleConfig(kind: kind, inputSize: c.input_size, hiddenSize: c.hidden_size, numLayers: c.num_layers, bias: c.bias,
                            batchFirst: c.batch_first, dropout: c.dropout, bidirectional: c.bidirectional,
                            projSize: c.proj_size, nonlinearity: nonlinearity)
    }

    /// The module's record, read by `ModelFile.read` from the case's `attrs.h5`.
    static func record(_ directory: String, _ module: Module) throws -> ModuleRecord {
        let file = try ModelFile.read(path: path(directory, "attrs.h5"))
        guard let record = file.modules.first(where: { $0.path == module.prefix }) else {
            throw FixtureError("\(directory)/attrs.h5 has no module at \(module.prefix)")
        }
        guard record.config == (try moduleConfig(module)) else {
            throw FixtureError("\(directory)/attrs.h5: \(record.config) differs from case.json")
        }
        return record
    }

    /// A call's arrays.
    struct Arrays {
        var input: Tensor
        var h0: Tensor?
        var c0: Tensor?
        var lengths: [Int]?
        var output: Tensor?
        var hN: Tensor
        var cN: Tensor?
    }

    static func arrays(_ directory: String, _ call: Call) throws -> Arrays {
        func tensor(_ name: String?) throws -> Tensor? {
            try name.map { try NpyArray.readFloatTensor(path: path(directory, $0)) }
        }
        return Arrays(input: try NpyArray.readFloatTensor(path: path(directory, call.input)),
                      h0: try tensor(call.h0), c0: try tensor(call.c0),
                      lengths: try call.lengths.map { try NpyArray.readIntegers(path: path(directory, $0)).values.map { Int($0) } },
                      output: try tensor(call.output),
                      hN: try NpyArray.readFloatTensor(path: path(directory, call.h_n)), cN: try tensor(call.c_n))
    }

    /// Everything one call needs.
    struct Loaded {
        var fixture: Case
        var module: Module
        var call: Call
        var record: ModuleRecord
        var arrays: Arrays
    }

    static func load(_ ref: CallRef) throws -> Loaded {
        let fixture = try loadCase(ref.caseDirectory)
        let module = fixture.allModules[ref.moduleIndex]
        guard let call = module.calls.first(where: { $0.name == ref.callName }) else {
            throw FixtureError("no call \(ref.callName)")
        }
        return Loaded(fixture: fixture, module: module, call: call,
                      record: try record(ref.caseDirectory, module), arrays: try arrays(ref.caseDirectory, call))
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Largest absolute difference between two tensors of the same shape; infinity when shapes differ.
func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    guard a.shape == b.shape else { return .infinity }
    return zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
