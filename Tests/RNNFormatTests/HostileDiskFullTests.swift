import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport
import RNNFormatWriter

/// A 64 KiB tmpfs mounted for one test; unmounted and removed when the value goes away.
final class SmallFilesystem {
    let path: String

    /// Whether this process may mount a tmpfs (root, and a kernel and container that allow it),
    /// probed once by mounting and unmounting one.
    static let available: Bool = {
        guard getuid() == 0 else { return false }
        return (try? SmallFilesystem()) != nil
    }()

    init() throws {
        let directory = try TemporaryDirectory()
        path = directory.file("small")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        guard Self.system(["/bin/mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", path]) == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            throw CocoaError(.fileWriteNoPermission)
        }
        keep = directory
    }

    private var keep: TemporaryDirectory?

    deinit {
        _ = Self.system(["/bin/umount", path])
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func entries() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    /// Fills the filesystem with `filler` until a write fails for lack of space.
    func fill() {
        let fd = open(file("filler"), O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(fd) }
        let block = [UInt8](repeating: 0xAB, count: 512)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
    }

    private static func system(_ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Writes that run out of space leave the old file intact and no temporary file behind.
/// Without permission to mount a tmpfs (not root, or a container without CAP_SYS_ADMIN) these
/// tests are skipped, and AtomicWriteTests' failure injection covers the same paths.
@Suite("Writes on a full disk", .enabled(if: SmallFilesystem.available, "skipped: mounting a 64 KiB tmpfs needs root and mount permission"))
struct HostileDiskFullTests {
    static let small = ModelFile(modules: [ModuleFactory.record(ModuleFactory.configs[6], path: "cell", seed: 3)])
    static let large = ModelFile(modules: [
        ModuleFactory.record(ModuleConfig(kind: .lstm, inputSize: 16, hiddenSize: 32, numLayers: 2, bidirectional: true), path: "big", seed: 4),
    ])

    static func contents(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    @Test("a model file that does not fit: old file unchanged, nothing else left")
    func modelFile() throws {
        let disk = try SmallFilesystem()
        let target = disk.file("model.h5")
        try Self.small.write(to: target, overwrite: false)
        let before = try #require(Self.contents(target))
        disk.fill()
        let error = #expect(throws: RNNFormatError.self) { try Self.large.write(to: target, overwrite: true) }
        #expect(error?.description.hasPrefix(target) == true, "\(error?.description ?? "")")
        #expect(Self.contents(target) == before)
        #expect(disk.entries() == ["filler", "model.h5"])
        // The old file still reads.
        #expect(try ModelFile.read(path: target).modules == Self.small.modules)

        // A new file that does not fit is not created at all.
        #expect(throws: RNNFormatError.self) { try Self.large.write(to: disk.file("new.h5"), overwrite: false) }
        #expect(disk.entries() == ["filler", "model.h5"])
    }

    @Test("a safetensors file that does not fit: old file unchanged, nothing else left")
    func safetensors() throws {
        let disk = try SmallFilesystem()
        let target = disk.file("model.safetensors")
        try SafetensorsFile.write(Self.small, to: target, overwrite: false)
        let before = try #require(Self.contents(target))
        disk.fill()
        #expect(throws: RNNFormatError.self) { try SafetensorsFile.write(Self.large, to: target, overwrite: true) }
        #expect(Self.contents(target) == before)
        #expect(disk.entries() == ["filler", "model.safetensors"])
    }

    @Test(".npy results that do not fit: old file unchanged, nothing else left")
    func npy() throws {
        let disk = try SmallFilesystem()
        let target = disk.file("output.npy")
        try NpyArray(try Tensor(zeros: [2, 3])).write(path: target)
        let before = try #require(Self.contents(target))
        disk.fill()
        let error = #expect(throws: RNNFormatError.self) { try NpyArray(try Tensor(zeros: [64, 64, 8])).write(path: target) }
        #expect(error?.description.hasPrefix(target) == true)
        #expect(Self.contents(target) == before)
        #expect(disk.entries() == ["filler", "output.npy"])
    }
}
