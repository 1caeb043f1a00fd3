import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport
import RNNFormatWriter

/// Good files cut short at many offsets and with seeded byte flips, generated at run time:
/// every read ends in a clear one-line error or, for damage the format cannot detect, a normal
/// model that validates and survives writing; always quickly and in bounded memory.
@Suite("Truncated and byte-flipped files")
struct HostileMutationTests {
    struct Source: Sendable, CustomTestStringConvertible {
        var path: String
        var testDescription: String { String(path.split(separator: "/").suffix(2).joined(separator: "/")) }
    }

    static let fixtures = Fixtures.repositoryRoot + "/fixtures"
    /// HDF5 written by h5py (old- and new-style groups, filters), by the writer (checksums),
    /// int8 weights; a torch.save checkpoint; a safetensors file; a .npy array.
    static let sources: [Source] = [
        "hostile/hdf5/reference.h5", "hostile/hdf5/latest_format.h5", "hostile/hdf5/allowed_filters.h5",
        "float/lstm_proj_bi_2l/attrs.h5", "quant/qgru/attrs.h5",
        "float/gru/model.pt", "float/lstm/model.safetensors", "float/gru/batched.input.npy",
    ].map { Source(path: fixtures + "/" + $0) }

    static let hdf5Sources = sources.filter { $0.path.hasSuffix(".h5") }

    /// Reads `path` with the reader for its kind.
    static func read(_ path: String) throws -> ModelFile? {
        if path.hasSuffix(".npy") {
            _ = try NpyArray.read(path: path)
            return nil
        }
        return try ModelFile.read(path: path)
    }

    /// Checks one read of a damaged copy: bounded, and a clear error or a sound model.
    static func check(_ path: String, _ comment: String) throws {
        var model: ModelFile?
        let error = HostileBounds.measure(path) { model = try read(path) }
        HostileBounds.expectClear(error, path: path, Comment(rawValue: comment))
        guard let model, error == nil else { return }
        // Undetectable damage (values in files without checksums): still a valid model.
        for module in model.modules {
            #expect(throws: Never.self, "\(comment)") { try module.validate(file: path) }
        }
        let copy = path + ".copy.h5"
        defer { unlink(copy) }
        try model.write(to: copy, overwrite: true)
        #expect(try ModelFile.read(path: copy).modules.map(\.config) == model.modules.map(\.config), "\(comment)")
    }

    @Test("every source reads as it is (the mutations start from good files)", arguments: sources)
    func sourcesRead(source: Source) throws {
        _ = try Self.read(source.path)
    }

    @Test("cut short at 100 offsets: a clear error every time", arguments: sources)
    func truncations(source: Source) throws {
        let bytes = try #require(FileManager.default.contents(atPath: source.path))
        let directory = try TemporaryDirectory()
        let path = directory.file("cut" + (source.path.hasSuffix(".npy") ? ".npy" : ""))
        // Every offset in the first 40 bytes (signatures, superblocks, headers), then 60 spread
        // over the rest.
        let offsets = Set(Array(0..<min(40, bytes.count)) + (0..<60).map { 40 + $0 * max(1, (bytes.count - 41) / 60) })
            .filter { $0 < bytes.count }.sorted()
        #expect(offsets.count >= 90)
        for offset in offsets {
            try bytes.prefix(offset).write(to: URL(fileURLWithPath: path))
            let error = HostileBounds.measure(path) { _ = try Self.read(path) }
            #expect(error != nil, "cut to \(offset) of \(bytes.count) bytes loaded")
            HostileBounds.expectClear(error, path: path, "cut to \(offset)")
            if source.path.hasSuffix(".h5") && offset > 0 {
                #expect((error as? RNNFormatError)?.code == .truncated, "cut to \(offset): \(String(describing: error))")
            }
        }
    }

    /// 150 damaged copies per source: 1 to 4 bytes set to seeded random values (the seed is
    /// the source's index, so a failure names a reproducible copy).
    @Test("150 seeded byte flips: a clear error or a sound model, never a crash", arguments: sources)
    func byteFlips(source: Source) throws {
        let bytes = try #require(FileManager.default.contents(atPath: source.path))
        let directory = try TemporaryDirectory()
        let path = directory.file("flipped" + (source.path.hasSuffix(".npy") ? ".npy" : ""))
        var generator = SeededGenerator(seed: UInt64(Self.sources.firstIndex { $0.path == source.path } ?? 0) + 1)
        for copy in 0..<150 {
            var damaged = [UInt8](bytes)
            var changes: [String] = []
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let at = Int.random(in: 0..<damaged.count, using: &generator)
                damaged[at] = UInt8.random(in: 0...255, using: &generator)
                changes.append("\(at)=\(damaged[at])")
            }
            try Data(damaged).write(to: URL(fileURLWithPath: path))
            try Self.check(path, "copy \(copy): bytes \(changes.joined(separator: ", "))")
        }
    }

    /// Canonical files carry a SHA-256 per tensor: a flip inside tensor data is always found.
    @Test("flips in a written file's tensor data are caught by the checksums")
    func checksumsCatchDataFlips() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("model.h5")
        let model = ModelFile(modules: [ModuleFactory.record(ModuleFactory.configs[3], path: "lstm", seed: 9)])
        try model.write(to: path, overwrite: false)
        let original = [UInt8](try #require(FileManager.default.contents(atPath: path)))
        // The byte ranges of contiguous tensor data, found from the values written.
        var generator = SeededGenerator(seed: 99)
        var caught = 0
        for (name, parameter) in model.modules[0].parameters.sorted(by: { $0.key < $1.key }) {
            let needle = parameter.floatValue.scalars.prefix(4).flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
            guard let start = Self.find(needle, in: original) else { continue }
            var damaged = original
            let at = start + Int.random(in: 0..<needle.count, using: &generator)
            damaged[at] ^= 0x40
            try Data(damaged).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: RNNFormatError.self, "flip in \(name)") { try ModelFile.read(path: path) }
            #expect(error?.code == .checksumMismatch, "flip in \(name): \(String(describing: error))")
            #expect(error?.object == "/lstm/\(name)")
            caught += 1
        }
        #expect(caught == model.modules[0].parameters.count)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard !needle.isEmpty, needle.count <= haystack.count else { return nil }
        return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
