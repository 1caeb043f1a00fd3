import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport
import RNNFormatWriter

@Suite("Checksums, truncation and damaged files")
struct IntegrityTests {
    /// Flips one byte of the stored data of `dataset` (found through h5py's offset).
    static func flipByte(in path: String, dataset: String) throws {
        let offset = try Python.run("""
            import h5py, sys
            with h5py.File(sys.argv[1], "r") as f:
                print(f[sys.argv[2]].id.get_offset())
            """, arguments: [path, dataset]).trimmingCharacters(in: .whitespacesAndNewlines)
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        let position = try #require(UInt64(offset)) + 5
        try handle.seek(toOffset: position)
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: position)
        try handle.write(contentsOf: [byte ^ 0x10])
    }

    @Test("every written tensor carries a sha256 the reader verifies; a flipped byte is named")
    func flippedByte() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("model.h5")
        let model = ModelFile(modules: [ModuleFactory.record(ModuleFactory.configs[0], path: "encoder")])
        try model.write(to: path, overwrite: false)
        let clean = try ModelFile.verify(path: path)
        #expect(clean.isIntact)
        #expect(clean.checked.count == model.modules[0].parameters.count)
        #expect(clean.unchecked.isEmpty)

        try Self.flipByte(in: path, dataset: "/encoder/weight_hh_l0")
        try Self.flipByte(in: path, dataset: "/encoder/bias_ih_l1_reverse")
        let error = #expect(throws: RNNFormatError.self) { try ModelFile.read(path: path) }
        #expect(error?.code == .checksumMismatch)
        let report = try ModelFile.verify(path: path)
        #expect(report.model == nil)
        #expect(report.mismatches.map { $0.object ?? "" } == ["/encoder/bias_ih_l1_reverse", "/encoder/weight_hh_l0"])
        #expect(report.mismatches.allSatisfy { $0.description.contains("checksum mismatch") })
    }

    /// A GRU whose weights straddle `HDF5TensorChecksums.inlineLimit`: `weight_ih_l0` is hashed
    /// inline, the other weights on the worker while the next tensor is read.
    static func mixedSizeModel(in directory: TemporaryDirectory, name: String = "model.h5") throws -> (path: String, order: [String]) {
        let path = directory.file(name)
        let config = ModuleConfig(kind: .gru, inputSize: 64, hiddenSize: 160, numLayers: 2)
        try ModelFile(modules: [ModuleFactory.record(config, path: "encoder")]).write(to: path, overwrite: false)
        // `checked` lists tensors in reading order.
        let order = try ModelFile.verify(path: path).checked
        #expect(order.count == config.expectedParameters.count)
        return (path, order)
    }

    /// Replaces the `sha256` attribute of `dataset` with text that is not a digest.
    static func damageDigest(in path: String, dataset: String) throws {
        _ = try Python.run("""
            import h5py, sys
            with h5py.File(sys.argv[1], "r+") as f:
                f[sys.argv[2]].attrs["sha256"] = "not a digest"
            """, arguments: [path, dataset])
    }

    @Test("with hashing in the background, enforce names the first corrupted tensor in reading order and collect lists all in that order")
    func corruptedInReadingOrder() throws {
        let directory = try TemporaryDirectory()
        let (path, order) = try Self.mixedSizeModel(in: directory)
        let corrupted: Set = ["/encoder/weight_ih_l0", "/encoder/weight_hh_l1", "/encoder/weight_ih_l1"]
        #expect(corrupted.isSubset(of: order))
        for name in corrupted { try Self.flipByte(in: path, dataset: name) }
        let expected = order.filter(corrupted.contains)

        let error = #expect(throws: RNNFormatError.self) { try ModelFile.read(path: path) }
        #expect(error?.code == .checksumMismatch)
        #expect(error?.object == expected.first)
        let report = try ModelFile.verify(path: path)
        #expect(report.model == nil)
        #expect(report.mismatches.map { $0.object ?? "" } == expected)
        #expect(report.checked == order.filter { !corrupted.contains($0) })
    }

    @Test("a malformed digest is refused before any tensor is read, even after a tensor whose data mismatches")
    func malformedDigestBeforeData() throws {
        let directory = try TemporaryDirectory()
        let (path, order) = try Self.mixedSizeModel(in: directory)
        let index = try #require(order.firstIndex(of: "/encoder/weight_hh_l1"))
        let next = try #require(order.indices.contains(index + 1) ? order[index + 1] : nil)
        try Self.flipByte(in: path, dataset: order[index])
        try Self.damageDigest(in: path, dataset: next)

        let error = #expect(throws: RNNFormatError.self) { try ModelFile.read(path: path) }
        #expect(error?.code == .invalidAttribute)
        #expect(error?.object == next)
        // verify reports the same: the digest is metadata, checked with the rest of it.
        let verifyError = #expect(throws: RNNFormatError.self) { try ModelFile.verify(path: path) }
        #expect(verifyError?.code == .invalidAttribute)
    }

    @Test("files without checksums (h5py dumps) load and verify as unchecked")
    func uncheckedDump() throws {
        let report = try ModelFile.verify(path: HostileFile.directory + "/reference.h5")
        #expect(report.isIntact)
        #expect(report.checked.isEmpty)
        #expect(report.unchecked.count == 4)
    }

    @Test("a file cut short anywhere is refused as truncated, never a crash",
          arguments: ["ours (superblock v0)", "reference.h5", "big_attribute.h5"])
    func truncated(source: String) throws {
        let directory = try TemporaryDirectory()
        var path = HostileFile.directory + "/" + source
        if source.hasPrefix("ours") {
            path = directory.file("model.h5")
            try ModelFile(modules: [ModuleFactory.record(ModuleFactory.configs[3], path: "rnn")]).write(to: path, overwrite: false)
        }
        let bytes = try #require(FileManager.default.contents(atPath: path))
        var offsets = Array(Set([1, 4, 7, 8, 9, 16, 40, 48, 96, 200, 512, 800, 1024, 2048])).filter { $0 < bytes.count }
        offsets += stride(from: 3000, to: bytes.count, by: max(1, bytes.count / 40)).map { $0 }
        offsets.append(bytes.count - 1)
        var codes: [RNNFormatError.Code: Int] = [:]
        for offset in offsets.sorted() {
            let cut = directory.file("cut-\(offset).h5")
            try bytes.prefix(offset).write(to: URL(fileURLWithPath: cut))
            let error = #expect(throws: RNNFormatError.self, "cut at \(offset) of \(bytes.count)") { try ModelFile.read(path: cut) }
            if let error {
                codes[error.code, default: 0] += 1
                #expect(error.code == .truncated, "cut at \(offset): \(error.description)")
            }
        }
        #expect(codes.values.reduce(0, +) == offsets.count)
    }
}
