import Foundation
import RNNFormat
import Testing
import _RNNKitTestSupport

/// The built `rnnconvert` on every committed hostile file, and on good inputs it must not touch.
@Suite("rnnconvert on hostile files")
struct HostileCLITests {
    /// Every hostile input: the HDF5 and pickle corpora and the fuzzer's regression inputs.
    static let files: [String] = {
        let root = CLI.repositoryRoot + "/fixtures/hostile"
        let manager = FileManager.default
        var found: [String] = []
        for directory in ["hdf5", "pickle", "pickle/control", "regressions"] {
            let names = (try? manager.contentsOfDirectory(atPath: root + "/" + directory)) ?? []
            for name in names.sorted() where !name.hasSuffix(".json") {
                var isDirectory: ObjCBool = false
                let path = root + "/" + directory + "/" + name
                if manager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                    found.append(path)
                }
            }
        }
        return found
    }()

    @Test("the corpus is there")
    func corpusIsPresent() {
        #expect(Self.files.count >= 150, "found \(Self.files.count)")
    }

    @Test("inspect: exit 0 and no stderr, or exit 1 and one error line naming the file; never a signal",
          arguments: files)
    func inspect(path: String) throws {
        let start = ContinuousClock.now
        let result = try CLI.run(["inspect", path])
        #expect(ContinuousClock.now - start < .seconds(10), "\(path) took too long")
        // A trap or a crash would end the process with a signal number as its status.
        #expect(result.status == 0 || result.status == 1, "\(path): status \(result.status)\n\(result.stderr)")
        if result.status == 0 {
            #expect(result.stderr.isEmpty, "\(result.stderr)")
        } else {
            #expect(result.stderrLines.count == 1, "\(result.stderr)")
            #expect(result.stderr.hasPrefix("error: \(path)"), "\(result.stderr)")
        }
    }

    /// Import, quantize, run, verify and inspect read their inputs and write only what they are
    /// asked to: every input's bytes are the same afterwards, and nothing else appears.
    @Test("no command modifies its inputs")
    func inputsUnchanged() throws {
        let directory = try TemporaryDirectory()
        let fixtures = CLI.repositoryRoot + "/fixtures/float/lstm"
        // Copies, so the test sees every file a command might touch beside its inputs.
        for name in ["model.pt", "batched.input.npy", "h0.h0.npy", "h0.c0.npy", "packed.lengths.npy", "packed.input.npy"] {
            try FileManager.default.copyItem(atPath: fixtures + "/" + name, toPath: directory.file(name))
        }
        func hashes() throws -> [String: String] {
            var result: [String: String] = [:]
            for name in directory.entries() {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: directory.file(name), isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                let data = try #require(FileManager.default.contents(atPath: directory.file(name)))
                result[name] = SHA256.hex(of: [UInt8](data))
            }
            return result
        }
        let commands: [(arguments: [String], creates: [String])] = [
            (["import", directory.file("model.pt"), "-o", directory.file("model.h5")], ["model.h5"]),
            (["quantize", directory.file("model.h5"), "-o", directory.file("q.h5")], ["q.h5"]),
            (["run", directory.file("model.h5"), "--input", directory.file("batched.input.npy"), "--h0", directory.file("h0.h0.npy"),
              "--c0", directory.file("h0.c0.npy"), "--out", directory.file("out")], ["out"]),
            (["run", directory.file("q.h5"), "--input", directory.file("packed.input.npy"), "--lengths", directory.file("packed.lengths.npy"),
              "--out", directory.file("out-q")], ["out-q"]),
            (["verify", directory.file("model.h5")], []),
            (["inspect", directory.file("q.h5")], []),
            (["inspect", directory.file("model.pt")], []),
        ]
        var known = Set(directory.entries())
        for command in commands {
            let before = try hashes()
            let result = try CLI.run(command.arguments)
            #expect(result.status == 0, "\(command.arguments): \(result.stderr)")
            let after = try hashes()
            for (name, hash) in before {
                #expect(after[name] == hash, "\(command.arguments[0]) changed \(name)")
            }
            // Only the outputs asked for appear: no temporary or partial files are left.
            let entries = Set(directory.entries())
            #expect(entries.subtracting(known.union(command.creates)).isEmpty, "\(command.arguments[0]) left \(entries.subtracting(known.union(command.creates)))")
            #expect(Set(command.creates).isSubset(of: entries))
            known = entries
        }
    }
}
