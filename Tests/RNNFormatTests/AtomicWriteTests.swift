import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport
@testable import RNNFormatWriter

@Suite("Atomic, non-clobbering writes")
struct AtomicWriteTests {
    struct Injected: Error {}

    static let model = ModelFile(modules: [
        ModuleFactory.record(ModuleFactory.configs[0], path: "a", seed: 1),
        ModuleFactory.record(ModuleFactory.configs[2], path: "b", seed: 2),
    ])

    @Test("an existing target is refused without overwrite and left untouched")
    func refusesExisting() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("out.h5")
        try Data("precious".utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: RNNFormatError.self) { try Self.model.write(to: path, overwrite: false) }
        #expect(error?.code == .alreadyExists)
        #expect(FileManager.default.contents(atPath: path) == Data("precious".utf8))
        #expect(directory.entries() == ["out.h5"])
    }

    @Test("overwrite replaces the target")
    func overwrites() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("out.h5")
        try Data("old".utf8).write(to: URL(fileURLWithPath: path))
        try Self.model.write(to: path, overwrite: true)
        #expect(try ModelFile.read(path: path).modules == Self.model.modules)
        #expect(directory.entries() == ["out.h5"])
    }

    @Test("a failure midway leaves no partial file and an existing target intact",
          arguments: [WriteStage.wroteDataset("/a/weight_ih_l0"), .wroteDataset("/b/bias_hh_l0"), .beforeCommit])
    func failureMidway(stage: WriteStage) throws {
        let directory = try TemporaryDirectory()
        let fresh = directory.file("fresh.h5")
        let existing = directory.file("existing.h5")
        try Data("old".utf8).write(to: URL(fileURLWithPath: existing))
        var reached = false
        let hook: (WriteStage) throws -> Void = { current in
            if current == stage { reached = true; throw Injected() }
        }
        #expect(throws: Injected.self) { try Self.model.write(to: fresh, overwrite: false, failure: hook) }
        #expect(reached)
        #expect(throws: Injected.self) { try Self.model.write(to: existing, overwrite: true, failure: hook) }
        #expect(directory.entries() == ["existing.h5"])
        #expect(FileManager.default.contents(atPath: existing) == Data("old".utf8))
    }

    @Test("an invalid module is refused before any file is created")
    func invalidModule() throws {
        let directory = try TemporaryDirectory()
        var record = ModuleFactory.record(ModuleFactory.configs[0], path: "m")
        record.parameters["weight_hh_l1"] = nil
        let error = #expect(throws: RNNFormatError.self) { try ModelFile(modules: [record]).write(to: directory.file("x.h5"), overwrite: false) }
        #expect(error?.code == .missingTensor)
        #expect(error?.object == "/m/weight_hh_l1")
        #expect(directory.entries().isEmpty)
    }

    @Test("module paths that cannot be laid out are refused", arguments: [
        (["a", "a"], "two modules share the path"),
        (["a", "a.b"], "would sit inside module group /a"),
        (["", "b"], "would sit inside module group /"),
        (["a..b"], "non-empty names"),
    ])
    func badPaths(paths: [String], message: String) throws {
        let directory = try TemporaryDirectory()
        let model = ModelFile(modules: paths.map { ModuleFactory.record(ModuleFactory.configs[6], path: $0) })
        let error = #expect(throws: RNNFormatError.self) { try model.write(to: directory.file("x.h5"), overwrite: false) }
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
        #expect(directory.entries().isEmpty)
    }

    @Test("an empty model and float16 overflow are refused")
    func refusedContent() throws {
        let directory = try TemporaryDirectory()
        #expect(throws: RNNFormatError.self) { try ModelFile(modules: []).write(to: directory.file("x.h5"), overwrite: false) }
        var record = ModuleFactory.record(ModuleFactory.configs[6], path: "c", stored: .float16)
        var tensor = record.parameters["bias_hh"]!.floatValue
        tensor[flat: 2] = 70000
        record.parameters["bias_hh"] = .float(tensor, stored: .float16)
        let error = #expect(throws: RNNFormatError.self) { try ModelFile(modules: [record]).write(to: directory.file("x.h5"), overwrite: false) }
        #expect(error?.description.contains("/c/bias_hh: value 70000.0 at flat index 2 does not fit float16") == true, "\(error?.description ?? "")")
        #expect(directory.entries().isEmpty)
    }

    @Test("a missing directory is an I/O error naming the output")
    func missingDirectory() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("no/such/dir/x.h5")
        let error = #expect(throws: RNNFormatError.self) { try Self.model.write(to: path, overwrite: false) }
        #expect(error?.description.hasPrefix(path) == true)
    }
}
