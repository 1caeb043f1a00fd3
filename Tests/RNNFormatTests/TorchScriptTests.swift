import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport

extension PickleTestBuilder {
    /// A TorchScript object: GLOBAL `module name`, an empty tuple, NEWOBJ, then BUILD with the
    /// dict of `entries` (its attributes), as torch.jit.save pickles every module.
    mutating func record(_ module: String, _ name: String, _ entries: [(String, (inout PickleTestBuilder) -> Void)]) {
        global(module, name); emptyTuple(); op(0x81)
        dict(entries)
        op(0x62)
    }
}

/// TorchScript archives (`torch.jit.save`): their `__torch__` classes are inert records whose
/// state is walked as plain data, their code is never read, and their RNN modules are found by
/// their parameters and named by attribute path.
@Suite("TorchScript archives")
struct TorchScriptTests {
    static let checkpoints = Fixtures.root + "/checkpoints"

    /// GRU(2, 3) parameters as a record's attributes, storages "0"..."3".
    static let gruShapes: [(String, [Int])] = [("weight_ih_l0", [9, 2]), ("weight_hh_l0", [9, 3]), ("bias_ih_l0", [9]), ("bias_hh_l0", [9])]
    static let gruStorages: [String: [UInt8]] = Dictionary(uniqueKeysWithValues: gruShapes.enumerated().map { i, spec in
        (String(i), float32Bytes((0..<spec.1.reduce(1, *)).map { Float($0) / 8 + Float(i) }))
    })
    static func gruAttributes() -> [(String, (inout PickleTestBuilder) -> Void)] {
        [("training", { $0.bool(false) })] + gruShapes.enumerated().map { i, spec in
            (spec.0, { $0.tensor(key: String(i), count: spec.1.reduce(1, *), shape: spec.1) })
        }
    }

    static func read(_ pickle: (inout PickleTestBuilder) -> Void) throws -> ModelFile {
        var p = PickleTestBuilder()
        pickle(&p)
        p.stop()
        let directory = try TemporaryDirectory()
        let path = directory.file("script.pt")
        try Data(torchArchive(pickle: p.bytes, storages: gruStorages)).write(to: URL(fileURLWithPath: path))
        return try ModelFile.read(path: path)
    }

    static func error(_ pickle: (inout PickleTestBuilder) -> Void) -> RNNFormatError? {
        do {
            _ = try read(pickle)
            return nil
        } catch {
            return error as? RNNFormatError
        }
    }

    @Test("a module tree's parameters sit at their attribute paths; flags, lists and type tags are plain data")
    func recordTree() throws {
        let model = try Self.read { p in
            p.record("__torch__", "Model", [
                ("training", { $0.bool(false) }),
                ("_model", { p in
                    p.record("__torch__.seq", "Wrapper", [
                        ("decoder", { p in
                            p.record("__torch__.torch.nn.modules.rnn", "GRU", Self.gruAttributes() + [
                                // What scripted GRUs carry beside their parameters: a tagged list of names
                                // and the list of the same tensors.
                                ("_flat_weights_names", { p in
                                    p.global("torch.jit._pickle", "restore_type_tag"); p.mark()
                                    p.emptyList(); p.mark(); p.string("weight_ih_l0"); p.op(0x65)
                                    p.string("List[str]"); p.tuple(); p.reduce()
                                }),
                                ("_flat_weights", { p in
                                    p.global("torch.jit._pickle", "build_tensorlist"); p.mark()
                                    p.emptyList(); p.mark(); p.tensor(key: "0", count: 18, shape: [9, 2]); p.op(0x65)
                                    p.tuple(); p.reduce()
                                }),
                            ])
                        }),
                    ])
                }),
            ])
        }
        #expect(model.modules.map(\.path) == ["_model.decoder"])
        #expect(model.modules.first?.config.kind == .gru && model.modules.first?.config.hiddenSize == 3)
        #expect(model.leftovers.isEmpty, "the tensor list repeats parameters and is not a leftover: \(model.leftovers)")
        #expect(model.metadata.producer == TorchCheckpoint.torchScriptProducer)
    }

    @Test("a TorchScript class is never called, and its state is set once", arguments: [
        ("REDUCE", "REDUCE on __torch__.Evil, which is not callable here"),
        ("BUILD twice", "BUILD on a __torch__.Evil that already has a state"),
        ("NEWOBJ with arguments", "NEWOBJ of __torch__.Evil with arguments"),
        ("type tag", "torch.jit._pickle.restore_type_tag: expected a type name, found int"),
    ])
    func hostileRecords(_ case: String, _ expected: String) {
        let error = Self.error { p in
            switch `case` {
            case "REDUCE":
                p.global("__torch__", "Evil"); p.string("rm -rf /"); p.op(0x85); p.reduce()
            case "BUILD twice":
                p.record("__torch__", "Evil", []); p.emptyDict(); p.op(0x62)
            case "NEWOBJ with arguments":
                p.global("__torch__", "Evil"); p.string("x"); p.op(0x85); p.op(0x81)
            default:
                p.global("torch.jit._pickle", "restore_type_tag"); p.emptyList(); p.int(3); p.op(0x86); p.reduce()
            }
        }
        #expect(error?.description.contains(expected) == true, "\(String(describing: error))")
    }

    @Test("other globals stay refused inside a TorchScript archive")
    func otherGlobals() {
        let error = Self.error { p in
            p.record("__torch__", "Model", [("hook", { p in p.global("builtins", "eval"); p.string("1"); p.op(0x85); p.reduce() })])
        }
        #expect(error?.code == .refusedPickle)
        #expect(error?.message.contains("builtins.eval") == true, "\(String(describing: error))")
    }

    @Test("module trees nested past the limit are refused, not followed")
    func deepTree() {
        let depth = PickleLimits().maxNesting + 5
        let error = Self.error { p in
            func level(_ p: inout PickleTestBuilder, _ n: Int) {
                p.record("__torch__", "M", n == 0 ? Self.gruAttributes() : [("child", { level(&$0, n - 1) })])
            }
            level(&p, depth)
        }
        #expect(error?.code == .refused, "\(String(describing: error))")
    }

    /// What `torch.jit.save` wrote for an archive holding two models (tools/make_fixtures.py
    /// checkpoints): the modules are those of the two float cases, at their attribute paths.
    @Test("an archive wrapping two models gives every model's modules, named by attribute path")
    func wrappedModels() throws {
        let model = try ModelFile.read(path: Self.checkpoints + "/two_models_wrapped.pt")
        let two = try ModelFile.read(path: Fixtures.root + "/float/two_modules/dump.h5")
        let gru = try ModelFile.read(path: Fixtures.root + "/float/gru_bi_2l/dump.h5")
        let expected = two.modules.map { ("_model." + $0.path, $0) } + gru.modules.map { ("aux." + $0.path, $0) }
        #expect(model.modules.map(\.path) == expected.map(\.0).sorted())
        for (path, reference) in expected {
            let found = try #require(model.modules.first { $0.path == path })
            #expect(found.config == reference.config, "\(path)")
            #expect(found.parameters.mapValues(\.floatValue) == reference.parameters.mapValues(\.floatValue), "\(path)")
        }
        #expect(model.leftovers == (two.leftovers.map { "_model." + $0.dropFirst().replacingOccurrences(of: "/", with: ".") }
            + gru.leftovers.map { "aux." + $0.dropFirst().replacingOccurrences(of: "/", with: ".") }).sorted())
    }
}
