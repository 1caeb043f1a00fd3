import Foundation
import Testing
@testable import RNNFormat

/// One entry of fixtures/hostile/pickle/index.json (tools/make_fixtures.py).
struct HostilePickle: Sendable, CustomStringConvertible, Decodable {
    var file: String
    var what: String
    /// Substring of the error's description.
    var expect: String
    var creates_if_executed: String?
    var description: String { file }

    static let directory = Fixtures.root + "/hostile/pickle"
    static let all: [HostilePickle] = {
        guard let data = FileManager.default.contents(atPath: directory + "/index.json") else { return [] }
        return (try? JSONDecoder().decode([HostilePickle].self, from: data)) ?? []
    }()

    var path: String { HostilePickle.directory + "/" + file }
}

@Suite("Hostile PyTorch checkpoints")
struct CheckpointHostileTests {
    @Test("the fixtures list the hostile pickles")
    func indexIsPresent() {
        #expect(HostilePickle.all.count >= 25, "fixtures/hostile/pickle/index.json missing under \(Fixtures.root)")
    }

    @Test("each hostile checkpoint is refused with its own one-line error, and nothing runs", arguments: HostilePickle.all)
    func refused(_ entry: HostilePickle) throws {
        if let canary = entry.creates_if_executed {
            unlink(canary)
        }
        let error = #expect(throws: RNNFormatError.self, "\(entry.what)") { try ModelFile.read(path: entry.path) }
        let description = error?.description ?? ""
        #expect(description.contains(entry.expect), "\(entry.what): got \(description)")
        #expect(description.hasPrefix(entry.path), "the error names the file")
        #expect(!description.contains("\n"), "one line")
        if let canary = entry.creates_if_executed {
            #expect(!FileManager.default.fileExists(atPath: canary), "\(canary) appeared: something ran")
        }
    }

    @Test("the control files of the hostile set: the zip one reads, the legacy one is named legacy")
    func controls() throws {
        let valid = HostilePickle.directory + "/control/valid.pt"
        let error = #expect(throws: RNNFormatError.self) { try ModelFile.read(path: valid) }
        // The control holds no RNN: it parses cleanly and fails only for want of a module.
        #expect(error?.code == .moduleNotFound)
        let legacy = #expect(throws: RNNFormatError.self) { try ModelFile.read(path: HostilePickle.directory + "/control/valid_legacy.pt") }
        #expect(legacy?.code == .unsupportedVersion)
        #expect(legacy?.message.contains("legacy (non-zip) torch.save format is unsupported") == true)
    }
}
