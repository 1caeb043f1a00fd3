import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport
import RNNFormatWriter

/// Peak memory of hostile reads, each measured alone by `rnnkit-memprobe` (Tests/MemoryProbe):
/// inside this test process many suites run at once and the peak only rises, so a bound
/// checked here would be vacuous. On Linux one probe process measures every file, resetting
/// its peak before each; elsewhere each file gets a process of its own.
@Suite("Hostile inputs: peak memory, each read measured alone", .serialized)
struct HostileMemoryTests {
    /// Growth per path, from the probe.
    static func probe(_ paths: [String]) throws -> [String: Int] {
        let program = try #require(Repository.builtProgram("rnnkit-memprobe"), "rnnkit-memprobe is not built")
        #if os(Linux)
        let batches = stride(from: 0, to: paths.count, by: 256).map { Array(paths[$0..<min($0 + 256, paths.count)]) }
        #else
        let batches = paths.map { [$0] }
        #endif
        var growth: [String: Int] = [:]
        for batch in batches {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = batch
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "rnnkit-memprobe exited with \(process.terminationStatus)")
            for line in String(decoding: output, as: UTF8.self).split(separator: "\n") {
                let fields = line.split(separator: "\t", maxSplits: 1)
                if fields.count == 2, let bytes = Int(fields[0]) { growth[String(fields[1])] = bytes }
            }
        }
        #expect(growth.count == Set(paths).count, "the probe measured \(growth.count) of \(paths.count) files")
        return growth
    }

    static func expectBounded(_ growth: [String: Int]) {
        for (path, bytes) in growth.sorted(by: { $0.key < $1.key }) {
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            #expect(bytes < HostileBounds.memory(forFileOf: size), "\(path): peak grew by \(bytes) bytes for a file of \(size)")
        }
    }

    /// The probe sees real allocations: a 12 MB model read alone raises its peak by at least
    /// the tensors' size, and by well under the bound's 16x.
    @Test("positive control: a 3M-parameter file raises the measured peak by its size")
    func probeMeasures() throws {
        let directory = try TemporaryDirectory(inMemory: true)
        let path = directory.file("big.h5")
        let config = ModuleConfig(kind: .gru, inputSize: 512, hiddenSize: 512, numLayers: 2)  // 3.2M parameters
        try ModelFile(modules: [ModuleFactory.record(config, path: "big")]).write(to: path, overwrite: false)
        let parameterBytes = 4 * config.expectedParameters.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let growth = try #require(try Self.probe([path])[path])
        #expect(growth >= parameterBytes, "peak grew by \(growth) bytes for \(parameterBytes) bytes of parameters")
        #expect(growth < 3 * parameterBytes)
    }

    @Test("every committed hostile file and fuzzer regression stays within the memory bound")
    func corpora() throws {
        let paths = HostileFile.all.map(\.path) + HostilePickle.all.map(\.path) + FuzzRegression.all.map(\.path)
        #expect(paths.count >= 150, "found \(paths.count)")
        Self.expectBounded(try Self.probe(paths))
    }

    /// Seeded damaged copies of the mutation tests' sources (cuts and byte flips), plus a zip
    /// member that declares 1 KiB and inflates to 4 GiB.
    @Test("damaged copies of good files and a zip bomb stay within the memory bound")
    func mutations() throws {
        let directory = try TemporaryDirectory()
        var paths: [String] = []
        for (index, source) in HostileMutationTests.sources.enumerated() {
            let bytes = [UInt8](try #require(FileManager.default.contents(atPath: source.path)))
            let suffix = source.path.hasSuffix(".npy") ? ".npy" : ""
            var generator = SeededGenerator(seed: UInt64(index) + 101)
            for copy in 0..<40 {
                var damaged = bytes
                if copy < 10 {
                    damaged = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
                } else {
                    for _ in 0..<Int.random(in: 1...4, using: &generator) {
                        damaged[Int.random(in: 0..<damaged.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                    }
                }
                let path = directory.file("s\(index)-\(copy)\(suffix)")
                try Data(damaged).write(to: URL(fileURLWithPath: path))
                paths.append(path)
            }
        }
        var zip = ZipTestBuilder()
        zip.members.append(.init(name: "archive/data.pkl", data: ZipTestBuilder.zeroBomb(mebibytes: 4096), method: 8, crc32: 0, uncompressedSize: 1024))
        let bomb = directory.file("bomb.pt")
        try Data(zip.bytes()).write(to: URL(fileURLWithPath: bomb))
        paths.append(bomb)
        Self.expectBounded(try Self.probe(paths))
    }
}
