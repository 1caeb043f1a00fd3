import Foundation
import Testing
@testable import RNNFormat

/// The committed hostile corpora (HostileFileTests and CheckpointHostileTests check each
/// file's error) read within the time and memory bounds of HostileBounds.
@Suite("Hostile corpora: bounded time and memory")
struct HostileCorpusBoundsTests {
    static let paths: [String] = HostileFile.all.map(\.path) + HostilePickle.all.map(\.path)

    @Test("the corpora are there")
    func present() {
        #expect(Self.paths.count >= 140, "found \(Self.paths.count)")
    }

    @Test("each hostile file is read or refused within 2 s and the memory bound", arguments: paths)
    func bounded(path: String) {
        let error = HostileBounds.measure(path) { _ = try ModelFile.read(path: path) }
        HostileBounds.expectClear(error, path: path)
    }
}
