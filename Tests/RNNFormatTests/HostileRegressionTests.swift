import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport
import RNNFormatWriter

/// One input a fuzzer found (fixtures/hostile/regressions/index.json).
struct FuzzRegression: Sendable, CustomStringConvertible, Decodable {
    var file: String
    /// hdf5, npy, checkpoint or safetensors: the reader the input crashed.
    var reader: String
    /// Substring of the error's description, or nil when the input must load.
    var expect: String?
    var found_by: String
    var why: String
    var description: String { file }

    static let directory = Fixtures.repositoryRoot + "/fixtures/hostile/regressions"
    static let all: [FuzzRegression] = {
        guard let data = FileManager.default.contents(atPath: directory + "/index.json") else { return [] }
        return (try? JSONDecoder().decode([FuzzRegression].self, from: data)) ?? []
    }()

    var path: String { FuzzRegression.directory + "/" + file }
}

@Suite("Inputs that crashed a reader under the fuzzer")
struct HostileRegressionTests {
    @Test("the index lists every committed regression input")
    func indexMatchesDirectory() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: FuzzRegression.directory).filter { $0 != "index.json" }
        #expect(Set(files) == Set(FuzzRegression.all.map(\.file)))
        #expect(!FuzzRegression.all.isEmpty)
    }

    @Test("each input gives its clear error, quickly and in bounded memory", arguments: FuzzRegression.all)
    func regression(_ entry: FuzzRegression) throws {
        let error = HostileBounds.measure(entry.path) {
            switch entry.reader {
            case "hdf5": _ = try ModelFile.read(path: entry.path)
            case "npy": _ = try NpyArray.read(path: entry.path)
            case "checkpoint": _ = try TorchCheckpoint.read(path: entry.path)
            case "safetensors": _ = try SafetensorsFile.read(path: entry.path)
            default: Issue.record("unknown reader \(entry.reader)")
            }
        }
        HostileBounds.expectClear(error, path: entry.path)
        if let expect = entry.expect {
            #expect((error as? RNNFormatError)?.description.contains(expect) == true, "\(entry.why): got \(String(describing: error))")
        } else {
            #expect(error == nil, "\(entry.why): must load")
            if entry.reader == "hdf5", error == nil {
                // What loads must survive being written and read back.
                let directory = try TemporaryDirectory()
                let model = try ModelFile.read(path: entry.path)
                try model.write(to: directory.file("copy.h5"), overwrite: false)
                let copy = try ModelFile.read(path: directory.file("copy.h5"))
                #expect(copy.modules.map(\.config) == model.modules.map(\.config))
                #expect(copy.modules.map { $0.parameters.mapValues(\.floatValue) } == model.modules.map { $0.parameters.mapValues(\.floatValue) })
            }
        }
    }

}
