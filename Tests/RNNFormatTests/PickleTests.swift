import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport

/// Writes `bytes` to a fresh file and imports it as a PyTorch checkpoint.
private func importArchive(_ bytes: [UInt8], limits: CheckpointLimits = CheckpointLimits()) throws -> ModelFile {
    let dir = try TemporaryDirectory()
    let path = dir.file("model.pt")
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw CocoaError(.fileWriteUnknown) }
    return try TorchCheckpoint.read(path: path, limits: limits)
}

/// The error importing `bytes` throws, nil when it imports.
private func importError(_ bytes: [UInt8], limits: CheckpointLimits = CheckpointLimits()) -> RNNFormatError? {
    do {
        _ = try importArchive(bytes, limits: limits)
        return nil
    } catch let error as RNNFormatError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}

/// A pickle whose root is built by `body`, wrapped in a torch.save-like archive.
private func archive(storages: [String: [UInt8]] = [:], byteorder: String? = "little", _ body: (inout PickleTestBuilder) -> Void) -> [UInt8] {
    var p = PickleTestBuilder()
    body(&p)
    p.stop()
    return torchArchive(pickle: p.bytes, storages: storages, byteorder: byteorder)
}

/// A GRU(2, 3) state_dict under `prefix`, storages "0"..."3" holding 0, 1, 2, ... in float32.
private struct TinyGRU {
    static let shapes: [(String, [Int])] = [("weight_ih_l0", [9, 2]), ("weight_hh_l0", [9, 3]), ("bias_ih_l0", [9]), ("bias_hh_l0", [9])]

    static func storages(bigEndian: Bool = false) -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for (i, (_, shape)) in shapes.enumerated() {
            out[String(i)] = float32Bytes((0..<shape.reduce(1, *)).map { Float($0) + Float(i) / 4 }, bigEndian: bigEndian)
        }
        return out
    }

    static func stateDict(_ p: inout PickleTestBuilder, prefix: String) {
        p.global("collections", "OrderedDict"); p.emptyTuple(); p.reduce()
        for (i, (name, shape)) in shapes.enumerated() {
            p.string(prefix.isEmpty ? name : prefix + "." + name)
            p.tensor(key: String(i), count: shape.reduce(1, *), shape: shape)
            p.setItem()
        }
    }
}

@Suite("Unpickler: only plain values and tensors, everything else refused")
struct PickleTests {
    static let refusedGlobals: [(String, String)] = [
        ("posix", "system"), ("os", "system"), ("builtins", "eval"), ("builtins", "exec"), ("__builtin__", "getattr"),
        ("subprocess", "Popen"), ("torch", "load"), ("torch._utils", "_rebuild_device_tensor_from_numpy"),
        ("collections", "defaultdict"), ("numpy.core.multiarray", "_reconstruct"), ("torch", "Tensor"),
    ]

    @Test("globals outside the allow-list are refused by name (GLOBAL)", arguments: refusedGlobals)
    func refusesGlobal(module: String, name: String) {
        let error = importError(archive { p in
            p.global(module, name); p.string("x"); p.op(0x85); p.reduce()
        })
        #expect(error?.code == .refusedPickle)
        #expect(error?.description.contains("model.pt: refusing pickle global '\(module).\(name)'") == true, "\(String(describing: error))")
    }

    @Test("globals outside the allow-list are refused by name (STACK_GLOBAL)")
    func refusesStackGlobal() {
        let error = importError(archive { p in
            p.string("builtins"); p.string("eval"); p.op(0x93); p.string("1"); p.op(0x85); p.reduce()
        })
        #expect(error?.code == .refusedPickle)
        #expect(error?.message.contains("refusing pickle global 'builtins.eval'") == true)
    }

    @Test("a pickle calling os.system runs nothing: the file it would create does not appear")
    func nothingRuns() throws {
        let marker = "/tmp/rnnkit_pickle_was_executed"
        unlink(marker)
        #expect(!FileManager.default.fileExists(atPath: marker))
        // Exactly what pickle.dumps of an object whose __reduce__ returns (os.system, (cmd,)) holds.
        let error = importError(archive { p in
            p.global("posix", "system"); p.string("touch " + marker); p.op(0x85); p.reduce()
        })
        #expect(error?.code == .refusedPickle)
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("opcodes that reach imports, the extension registry or buffers are refused", arguments: [
        ("INST", [0x28, 0x69] + Array("os\nsystem\n".utf8)), ("OBJ", [0x28, 0x6F]), ("EXT1", [0x82, 0x01]),
        ("NEXT_BUFFER", [0x97]), ("PERSID", [0x50] + Array("0\n".utf8)), ("STRING (protocol 0)", [0x53] + Array("'a'\n".utf8)),
    ] as [(String, [UInt8])])
    func refusesOpcodes(name: String, code: [UInt8]) {
        let error = importError(archive { p in
            for b in code { p.op(b) }
        })
        #expect(error?.code == .refusedPickle)
        #expect(error?.message.contains("refusing pickle opcode \(name)") == true, "\(String(describing: error))")
    }

    @Test("broken pickles are malformed or truncated, never a crash", arguments: [
        ("stack underflow", [0x52], RNNFormatError.Code.malformed),
        ("memo never stored", [0x68, 0x07], .malformed),
        ("unknown opcode", [0xFF], .malformed),
        ("string past the end", [0x58, 0x10, 0, 0, 0, 0x41], .truncated),
        ("REDUCE on a list", [0x5D, 0x29, 0x52], .malformed),
        ("SETITEM on a list", [0x5D, 0x4B, 1, 0x4B, 2, 0x73], .malformed),
        ("POP_MARK without MARK", [0x31], .malformed),
        ("protocol 9", [0x80, 9], .malformed),
        ("BUILD on an int", [0x4B, 1, 0x7D, 0x62], .malformed),
        ("persistent id not a storage", [0x4B, 1, 0x51], .malformed),
    ] as [(String, [UInt8], RNNFormatError.Code)])
    func broken(name: String, code: [UInt8], expected: RNNFormatError.Code) {
        let error = importError(archive { p in
            for b in code { p.op(b) }
        })
        #expect(error?.code == expected, "\(name): \(String(describing: error))")
    }

    @Test("a pickle without STOP is truncated")
    func noStop() {
        var p = PickleTestBuilder()
        p.emptyDict()
        #expect(importError(torchArchive(pickle: p.bytes))?.code == .truncated)
    }

    @Test("strings beyond the limit are refused before they are copied")
    func longString() {
        var limits = CheckpointLimits()
        limits.pickle.maxStringBytes = 1000
        let error = importError(archive { p in p.string(String(repeating: "a", count: 1001)) }, limits: limits)
        #expect(error?.code == .refused)
    }

    @Test("nesting deeper than the limit is refused (lists in lists, MARKs in MARKs)")
    func deepNesting() {
        let lists = importError(archive { p in
            for _ in 0..<500 { p.emptyList() }
            for _ in 0..<499 { p.append() }
        })
        #expect(lists?.code == .refused)
        #expect(lists?.message.contains("nesting too deep: containers nested more than 100 levels") == true)
        let marks = importError(archive { p in
            for _ in 0..<2000 { p.mark() }
        })
        #expect(marks?.code == .refused)
        #expect(marks?.message.contains("nesting too deep: more than 1024 open MARKs") == true)
    }

    @Test("a cycle (a list containing itself) is followed once")
    func cycle() {
        let error = importError(archive { p in
            p.emptyList(); p.put(0); p.get(0); p.append()
        })
        #expect(error?.code == .moduleNotFound)
    }

    @Test("shared tuples doubling 60 times (2^60 paths) are walked once each")
    func sharedReferenceBlowup() {
        let started = ContinuousClock.now
        let error = importError(archive { p in
            p.int(1)
            for _ in 0..<60 { p.op(0x32); p.op(0x86) }  // DUP, TUPLE2: t = (t, t)
        })
        #expect(error?.code == .moduleNotFound)
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    @Test("more containers than the limit are refused while unpickling")
    func containerLimit() {
        var limits = CheckpointLimits()
        limits.pickle.maxContainers = 1000
        let error = importError(archive { p in
            for _ in 0..<1001 { p.emptyDict(); p.op(0x30) }  // EMPTY_DICT, POP
            p.emptyDict()
        }, limits: limits)
        #expect(error?.code == .refused)
        #expect(error?.message.contains("more than 1000 containers") == true)
    }

    @Test("more containers than the visit budget are refused")
    func visitBudget() {
        var limits = CheckpointLimits()
        limits.pickle.maxVisits = 100
        let error = importError(archive { p in
            p.emptyList()
            for _ in 0..<200 { p.emptyList(); p.append() }
        }, limits: limits)
        #expect(error?.code == .refused)
        #expect(error?.message.contains("more than 100 nested containers") == true)
    }

    @Test("tensor views outside their storage are refused without allocating", arguments: [
        ([1 << 40, 1 << 40], nil as [Int]?, 0),
        ([Int(Int32.max), 4], nil, 0),
        ([3, 2], [1 << 62, 1], 0),
        ([9, 2], nil, 1),
        ([2, 2], [100, 1], 0),
    ])
    func viewOutOfRange(shape: [Int], stride: [Int]?, offset: Int) {
        let error = importError(archive(storages: ["0": float32Bytes(Array(repeating: 0, count: 18))]) { p in
            p.emptyDict(); p.string("rnn.weight_ih_l0")
            p.tensor(key: "0", count: 18, offset: offset, shape: shape, stride: stride)
            p.setItem()
        })
        #expect(error?.code == .malformed)
        #expect(error?.message.contains("tensor view out of range") == true, "\(String(describing: error))")
    }

    @Test("a storage the archive lacks, or of another size than declared, is refused")
    func storageMembers() {
        let missing = importError(archive { p in
            p.emptyDict(); p.string("w"); p.tensor(key: "0", count: 4, shape: [4]); p.setItem()
        })
        #expect(missing?.code == .missingTensor)
        #expect(missing?.object == "archive/data/0")
        let short = importError(archive(storages: ["0": float32Bytes([1, 2, 3])]) { p in
            p.emptyDict(); p.string("w"); p.tensor(key: "0", count: 4, shape: [4]); p.setItem()
        })
        #expect(short?.code == .malformed)
        #expect(short?.message.contains("holds 12 bytes; the pickle declares 4 elements of torch.float32 (16 bytes)") == true)
    }

    @Test("a GRU state_dict imports; values follow offset and strides (transposed view)")
    func importsStridedGRU() throws {
        let imported = try importArchive(archive(storages: TinyGRU.storages()) { p in TinyGRU.stateDict(&p, prefix: "enc") })
        let module = try #require(imported.modules.first)
        #expect(module.path == "enc")
        #expect(module.config == ModuleConfig(kind: .gru, inputSize: 2, hiddenSize: 3))
        let bias = try #require(module.parameters["bias_hh_l0"]?.floatValue)
        #expect(bias.scalars == (0..<9).map { Float($0) + 0.75 })

        // weight_ih_l0 (9, 2) as the transpose of a (2, 9) storage: element (i, j) is storage[j*9 + i].
        let storage = (0..<18).map { Float($0) * 0.5 }
        var storages = TinyGRU.storages()
        storages["t"] = float32Bytes([-1] + storage)
        let strided = try importArchive(archive(storages: storages) { p in
            p.emptyDict()
            for (i, (name, shape)) in TinyGRU.shapes.enumerated() {
                p.string(name)
                if i == 0 { p.tensor(key: "t", count: 19, offset: 1, shape: shape, stride: [1, 9]) }
                else { p.tensor(key: String(i), count: shape.reduce(1, *), shape: shape) }
                p.setItem()
            }
        })
        let weight = try #require(strided.modules.first?.parameters["weight_ih_l0"]?.floatValue)
        #expect(weight.shape == [9, 2])
        #expect(weight.scalars == (0..<9).flatMap { i in (0..<2).map { j in storage[j * 9 + i] } })
    }

    @Test("the byteorder record is honoured: a big-endian archive gives the same tensors")
    func bigEndian() throws {
        let little = try importArchive(archive(storages: TinyGRU.storages()) { p in TinyGRU.stateDict(&p, prefix: "") })
        let big = try importArchive(archive(storages: TinyGRU.storages(bigEndian: true), byteorder: "big") { p in TinyGRU.stateDict(&p, prefix: "") })
        #expect(big.modules == little.modules)
        let bad = importError(archive(storages: TinyGRU.storages(), byteorder: "middle") { p in TinyGRU.stateDict(&p, prefix: "") })
        #expect(bad?.code == .malformed)
    }

    @Test("modules in several state_dicts are prefixed with their key path; others keep their state_dict prefix")
    func severalStateDicts() throws {
        let imported = try importArchive(archive(storages: TinyGRU.storages()) { p in
            p.dict([
                ("epoch", { $0.int(7) }),
                ("model", { TinyGRU.stateDict(&$0, prefix: "enc") }),
                ("ema", { TinyGRU.stateDict(&$0, prefix: "enc") }),
                ("meta", { p in p.dict([("tags", { p in p.emptyList(); p.string("a"); p.append() }), ("best", { $0.none() }), ("lr", { $0.float(0.001) })]) }),
            ])
        })
        #expect(imported.modules.map(\.path) == ["ema.enc", "model.enc"])

        let single = try importArchive(archive(storages: TinyGRU.storages()) { p in
            p.dict([
                ("model", { TinyGRU.stateDict(&$0, prefix: "enc") }),
                ("optimizer", { p in p.dict([("state", { p in
                    p.emptyDict(); p.int(0); p.dict([("momentum_buffer", { $0.tensor(key: "0", count: 18, shape: [9, 2]) })]); p.setItem()
                })]) }),
            ])
        })
        #expect(single.modules.map(\.path) == ["enc"])
        #expect(single.leftovers == ["optimizer.state.0.momentum_buffer"])
    }

    @Test("no RNN module: the error lists the tensors seen")
    func noModule() {
        let error = importError(archive(storages: ["0": float32Bytes(Array(repeating: 0, count: 6))]) { p in
            p.dict([("head.weight", { $0.tensor(key: "0", count: 6, shape: [3, 2]) })])
        })
        #expect(error?.code == .moduleNotFound)
        #expect(error?.message.contains("1 tensor(s) seen: head.weight [3, 2] torch.float32") == true, "\(String(describing: error))")
    }

    @Test("a TorchScript archive is named as such")
    func torchScript() {
        var zip = ZipTestBuilder()
        zip.stored("m/constants.pkl", [0x80, 2, 0x29, 0x2E])
        zip.stored("m/code/__torch__.py", Array("x".utf8))
        let error = importError(zip.bytes())
        #expect(error?.code == .notRecognized)
        #expect(error?.message.contains("a TorchScript archive (torch.jit.save) without <root>/data.pkl") == true)
    }
}
