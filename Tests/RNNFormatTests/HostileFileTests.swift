import Foundation
import Testing
@testable import RNNFormat

/// One entry of fixtures/hostile/hdf5/index.json (tools/make_hostile_hdf5.py).
struct HostileFile: Sendable, CustomStringConvertible, Decodable {
    var file: String
    /// Substring of the error's description, or nil when the file must load.
    var expect: String?
    var same_as: String?
    var why: String
    var description: String { file }

    static let directory = Fixtures.repositoryRoot + "/fixtures/hostile/hdf5"
    static let all: [HostileFile] = {
        guard let data = FileManager.default.contents(atPath: directory + "/index.json") else { return [] }
        return (try? JSONDecoder().decode([HostileFile].self, from: data)) ?? []
    }()

    var path: String { HostileFile.directory + "/" + file }
}

@Suite("Malformed and hostile HDF5 files")
struct HostileFileTests {
    @Test("the generated index lists the hostile files")
    func indexIsPresent() {
        #expect(HostileFile.all.count >= 50, "run python3 tools/make_hostile_hdf5.py")
    }

    @Test("each file loads or fails with its specific one-line error", arguments: HostileFile.all)
    func hostile(_ entry: HostileFile) throws {
        if let expect = entry.expect {
            let error = #expect(throws: RNNFormatError.self, "\(entry.why)") { try ModelFile.read(path: entry.path) }
            let description = error?.description ?? ""
            #expect(description.contains(expect), "\(entry.why): got \(description)")
            #expect(description.hasPrefix(entry.path), "the error names the file")
            #expect(!description.contains("\n"), "one line")
        } else {
            let model = try ModelFile.read(path: entry.path)
            #expect(!model.modules.isEmpty)
            if let reference = entry.same_as {
                let expected = try ModelFile.read(path: HostileFile.directory + "/" + reference)
                #expect(model.modules.map(\.config) == expected.modules.map(\.config))
                #expect(model.modules.map { $0.parameters.mapValues(\.floatValue) } == expected.modules.map { $0.parameters.mapValues(\.floatValue) })
            }
        }
    }
}
