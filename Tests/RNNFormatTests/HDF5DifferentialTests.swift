import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport

/// RNNKit's own HDF5 reader against libhdf5, the reference: every committed HDF5 file and a
/// seeded corpus of mutated ones are read by both (libhdf5 through h5py, tools/hdf5_oracle.py, in
/// a forked child per file so that a libhdf5 crash is an answer, not a lost test run).
///
/// Where libhdf5 reads a file, RNNKit's reader must give the same groups, datasets, attributes
/// and values (datasets compared by the SHA-256 of their little-endian bytes), or refuse the file
/// with a one-line error. It may never give different data. Files libhdf5 refuses must be refused
/// too, except where the profile has a reason to read further; those are counted.
@Suite("HDF5 reader against libhdf5", .serialized)
struct HDF5DifferentialTests {
    /// What one reader made of one file.
    enum Outcome: Equatable {
        case read(Description)
        case failed(String)
    }

    /// A file as a reader sees it, in a form both readers produce exactly.
    struct Description: Equatable, CustomStringConvertible {
        /// Group path -> attributes; dataset path -> (dtype, shape, sha256, attributes).
        var groups: [String: [String: Attribute]]
        var datasets: [String: Dataset]

        struct Attribute: Equatable {
            var shape: [Int]
            var kind: String
            var values: [String]
        }

        struct Dataset: Equatable {
            var dtype: String
            var shape: [Int]
            var sha256: String?
            var attributes: [String: Attribute]
        }

        var description: String { "\(groups.count) groups, \(datasets.count) datasets" }

        /// The first difference from `other`, for messages.
        func difference(from other: Description) -> String? {
            func attributeDifference(_ a: [String: Attribute]?, _ b: [String: Attribute]?) -> String {
                let a = a ?? [:], b = b ?? [:]
                for name in Set(a.keys).union(b.keys).sorted() where a[name] != b[name] {
                    return "attribute \(name): \(a[name].map { "\($0)" } ?? "absent") vs \(b[name].map { "\($0)" } ?? "absent")"
                }
                return "same attributes"
            }
            for path in Set(groups.keys).union(other.groups.keys).sorted() where groups[path] != other.groups[path] {
                guard groups[path] != nil, other.groups[path] != nil else { return "group \(path) only in one" }
                return "group \(path): \(attributeDifference(groups[path], other.groups[path]))"
            }
            for path in Set(datasets.keys).union(other.datasets.keys).sorted() where datasets[path] != other.datasets[path] {
                guard let mine = datasets[path], let theirs = other.datasets[path] else { return "dataset \(path) only in one" }
                if mine.attributes != theirs.attributes { return "dataset \(path): \(attributeDifference(mine.attributes, theirs.attributes))" }
                return "dataset \(path): \(mine.dtype) \(mine.shape) \(mine.sha256 ?? "-") vs \(theirs.dtype) \(theirs.shape) \(theirs.sha256 ?? "-")"
            }
            return nil
        }
    }

    // MARK: RNNKit's reader

    static func ours(_ path: String) -> Outcome {
        do {
            let source = try ByteSource(path: path)
            let catalog = try HDF5Reader(source: source).catalog()
            var groups: [String: [String: Description.Attribute]] = [:]
            for group in catalog.groups { groups[group.path] = attributes(group.attributes) }
            var datasets: [String: Description.Dataset] = [:]
            for dataset in catalog.datasets {
                var hasher = SHA256()
                var bytes = [UInt8](repeating: 0, count: dataset.declaredBytes)
                try bytes.withUnsafeMutableBytes { buffer in
                    try dataset.plan.read(from: source, into: buffer, object: dataset.path) { hasher.update(raw: $0) }
                }
                let dtype: String
                switch dataset.element {
                case .float(let b): dtype = "float\(b * 8)"
                case .integer(let b, let signed): dtype = "\(signed ? "int" : "uint")\(b * 8)"
                }
                datasets[dataset.path] = Description.Dataset(dtype: dtype, shape: dataset.shape, sha256: hasher.hexDigest(),
                                                             attributes: attributes(dataset.attributes))
            }
            return .read(Description(groups: groups, datasets: datasets))
        } catch let error as RNNFormatError {
            return .failed(error.description)
        } catch {
            return .failed("not an RNNFormatError: \(error)")
        }
    }

    static func attributes(_ list: [HDF5Attribute]) -> [String: Description.Attribute] {
        var out: [String: Description.Attribute] = [:]
        for attribute in list {
            let (kind, values): (String, [String]) = switch attribute.value {
            case .integers(let v): ("int", v.map(String.init))
            case .floats(let v): ("float", v.map { value in
                let bits = value.bitPattern
                return (0..<8).map { String(format: "%02x", (bits >> (8 * UInt64($0))) & 0xFF) }.joined()
            })
            case .strings(let v): ("string", v)
            case .bools(let v): ("bool", v.map { $0 ? "true" : "false" })
            case .enumNames(let v): ("enum", v)
            }
            out[attribute.name] = Description.Attribute(shape: attribute.shape, kind: kind, values: values)
        }
        return out
    }

    // MARK: libhdf5's reader

    /// Runs tools/hdf5_oracle.py over `paths` (through files: the answers can be large).
    static func oracle(_ paths: [String]) throws -> [String: Outcome] {
        let directory = try TemporaryDirectory()
        let list = directory.file("paths.txt"), answers = directory.file("answers.jsonl")
        try Data((paths.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: list))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec python3 \"$0\" < \"$1\" > \"$2\"", Fixtures.repositoryRoot + "/tools/hdf5_oracle.py", list, answers]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "tools/hdf5_oracle.py failed (needs python3 with numpy and h5py: tools/ensure-deps.sh)")
        let data = try Data(contentsOf: URL(fileURLWithPath: answers))
        var results: [String: Outcome] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let file = try #require(object["file"] as? String)
            guard object["ok"] as? Bool == true else {
                results[file] = .failed(object["error"] as? String ?? "?")
                continue
            }
            func attributes(_ any: Any?) throws -> [String: Description.Attribute] {
                let map = try #require(any as? [String: [String: Any]])
                return try map.mapValues { a in
                    let kind = try #require(a["kind"] as? String)
                    let values = try #require(a["values"] as? [Any])
                    return Description.Attribute(shape: try #require(a["shape"] as? [Int]), kind: kind,
                                                 values: kind == "bool" ? values.map { ($0 as? Bool) == true ? "true" : "false" } : values.map { "\($0)" })
                }
            }
            var groups: [String: [String: Description.Attribute]] = [:]
            for group in try #require(object["groups"] as? [[String: Any]]) {
                groups[try #require(group["path"] as? String)] = try attributes(group["attributes"])
            }
            var datasets: [String: Description.Dataset] = [:]
            for dataset in try #require(object["datasets"] as? [[String: Any]]) {
                datasets[try #require(dataset["path"] as? String)] = Description.Dataset(
                    dtype: try #require(dataset["dtype"] as? String), shape: try #require(dataset["shape"] as? [Int]),
                    sha256: dataset["sha256"] as? String, attributes: try attributes(dataset["attributes"]))
            }
            results[file] = .read(Description(groups: groups, datasets: datasets))
        }
        return results
    }

    // MARK: Corpora

    /// Every committed HDF5 file.
    static func committedFiles() -> [String] {
        let root = Fixtures.root
        let enumerator = FileManager.default.enumerator(atPath: root)
        var files: [String] = []
        while let item = enumerator?.nextObject() as? String {
            guard item.hasSuffix(".h5") else { continue }
            files.append(root + "/" + item)
        }
        return files.sorted()
    }

    /// Files written by h5py that RNNKit must read, not refuse: fixtures/hdf5 and the float and
    /// quantized cases.
    static func mustRead(_ path: String) -> Bool {
        let relative = path.dropFirst(Fixtures.root.count + 1)
        return relative.hasPrefix("hdf5/") || relative.hasPrefix("float/") || relative.hasPrefix("quant/")
    }

    /// Compares both readers on `paths`; returns (same, refused by us while libhdf5 read,
    /// refused by both, read by us while libhdf5 refused).
    static let verbose = ProcessInfo.processInfo.environment["RNNKIT_DIFFERENTIAL_VERBOSE"] != nil

    static func compare(_ paths: [String], mustRead: (String) -> Bool) throws -> (same: Int, refusedByUs: Int, refusedByBoth: Int, readByUsOnly: [String]) {
        let reference = try oracle(paths)
        var counts = (same: 0, refusedByUs: 0, refusedByBoth: 0, readByUsOnly: [String]())
        for path in paths {
            let theirs = try #require(reference[path], "no oracle answer for \(path)")
            let mine = ours(path)
            switch (theirs, mine) {
            case (.read(let expected), .read(let found)):
                if let difference = found.difference(from: expected) {
                    Issue.record("\(path): RNNKit read different data from libhdf5: \(difference)")
                } else {
                    counts.same += 1
                }
            case (.read, .failed(let error)):
                #expect(!mustRead(path), "\(path): libhdf5 reads it, RNNKit refused: \(error)")
                if verbose { print("  refused by RNNKit only: \(error)") }
                #expect(error.hasPrefix(path) && !error.contains("\n") && !error.contains("not an RNNFormatError"), "\(path): \(error)")
                counts.refusedByUs += 1
            case (.failed, .failed(let error)):
                #expect(error.hasPrefix(path) && !error.contains("\n") && !error.contains("not an RNNFormatError"), "\(path): \(error)")
                counts.refusedByBoth += 1
            case (.failed(let why), .read):
                if verbose { print("  read by RNNKit only: \(path): \(why)") }
                #expect(!mustRead(path), "\(path): libhdf5 refused it (\(why)), RNNKit read it")
                counts.readByUsOnly.append("\(path): \(why)")
            }
        }
        return counts
    }

    @Test("every committed HDF5 file reads as libhdf5 reads it, or is refused in one line")
    func committed() throws {
        let files = Self.committedFiles()
        #expect(files.count > 150)
        let counts = try Self.compare(files, mustRead: Self.mustRead)
        print("HDF5 differential, committed files: \(files.count): \(counts.same) identical, \(counts.refusedByUs) refused by the profile, \(counts.refusedByBoth) refused by both, \(counts.readByUsOnly.count) read by RNNKit only")
        #expect(counts.same >= Self.committedFiles().filter(Self.mustRead).count)
    }

    /// Good files of every storage kind, each damaged `perFile` ways: one to four bytes replaced,
    /// mostly where metadata lives (the first few kilobytes), and truncations.
    static func mutations(perFile: Int, in directory: TemporaryDirectory) throws -> [String] {
        let seeds = ["hdf5/gru_bi_2l.earliest.h5", "hdf5/lstm_proj_bi_2l.latest.h5", "hdf5/gru_bi_2l.gzip.h5",
                     "hdf5/gru_bi_2l.fixed_gzip_latest.h5", "hdf5/gru_bi_2l.extensible_latest.h5", "hdf5/gru_bi_2l.btree2_gzip_latest.h5",
                     "hdf5/attributes.h5", "hdf5/attributes_latest.h5", "hdf5/gru_bi_2l.compact.h5", "hdf5/gru_bi_2l.implicit_latest.h5"]
        var generator = SeededGenerator(seed: 0x4844_4635)
        var paths: [String] = []
        for (s, seed) in seeds.enumerated() {
            let original = [UInt8](try #require(FileManager.default.contents(atPath: Fixtures.root + "/" + seed)))
            for m in 0..<perFile {
                var bytes = original
                if m % 10 == 9 {
                    bytes.removeLast(Int(generator.next() % UInt64(bytes.count - 1)) + 1)
                } else {
                    for _ in 0...(Int(generator.next() % 4)) {
                        let span = generator.next() % 4 == 0 ? bytes.count : min(bytes.count, 4096)
                        let at = Int(generator.next() % UInt64(span))
                        bytes[at] = generator.next() % 2 == 0 ? UInt8(truncatingIfNeeded: generator.next()) : bytes[at] ^ (1 << UInt8(generator.next() % 8))
                    }
                }
                let path = directory.file("m\(s)-\(m).h5")
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                paths.append(path)
            }
        }
        return paths
    }

    @Test("mutated files never read differently from libhdf5")
    func mutated() throws {
        let directory = try TemporaryDirectory()
        let paths = try Self.mutations(perFile: 150, in: directory)
        let counts = try Self.compare(paths, mustRead: { _ in false })
        print("HDF5 differential, \(paths.count) mutated files: \(counts.same) identical, \(counts.refusedByUs) refused by RNNKit while libhdf5 read them, \(counts.refusedByBoth) refused by both, \(counts.readByUsOnly.count) read by RNNKit only")
        for line in counts.readByUsOnly.prefix(20) { print("  read by RNNKit only: \(line)") }
        #expect(counts.same > 0 && counts.refusedByBoth > 0)
    }
}
