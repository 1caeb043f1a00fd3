import Testing
@testable import RNNFormat

@Suite("Reading the PyTorch fixtures' HDF5 files")
struct FixtureReadingTests {
    @Test("fixtures/index.json lists float and quantized cases")
    func indexIsPresent() {
        #expect(Fixtures.cases.count >= 10, "fixtures not found under \(Fixtures.root)")
    }

    @Test("bare dump.h5: kind and hyperparameters inferred, extra tensors left over", arguments: Fixtures.cases)
    func bareDump(_ fixture: Fixtures.Case) throws {
        let path = try #require(fixture.file("dump"))
        // batch_first and nonlinearity are not in a bare dump: without options they default.
        let plain = try ModelFile.read(path: path)
        #expect(plain.modules.map(\.path) == fixture.modules.map(\.prefix).sorted())
        for expected in fixture.modules {
            let module = try #require(plain.modules.first { $0.path == expected.prefix })
            var defaults = expected.config
            defaults.batchFirst = false
            defaults.nonlinearity = .tanh
            defaults.dropout = 0
            #expect(module.config == defaults)
            #expect(module.parameters.values.allSatisfy { $0.storedType == fixture.dtype })
        }
        #expect(plain.leftovers == fixture.extraKeys.map { "/" + $0.replacingOccurrences(of: ".", with: "/") }.sorted())
        #expect(plain.metadata.formatVersion == nil)

        let first = fixture.modules[0].config
        let withOptions = try ModelFile.read(path: path, options: InferenceOptions(batchFirst: first.batchFirst, nonlinearity: first.nonlinearity))
        let module = try #require(withOptions.modules.first { $0.path == fixture.modules[0].prefix })
        var expected = first
        expected.dropout = 0
        #expect(module.config == expected)
    }

    @Test("attrs.h5 (h5py with spec attributes): config as PyTorch's, same tensors as the dump", arguments: Fixtures.cases)
    func attributes(_ fixture: Fixtures.Case) throws {
        let path = try #require(fixture.file("attrs"))
        let model = try ModelFile.read(path: path)
        #expect(model.metadata.formatVersion == FormatVersion(major: 1, minor: 0))
        #expect(model.leftovers.isEmpty)
        #expect(model.modules.map(\.config) == fixture.modules.sorted { $0.prefix < $1.prefix }.map(\.config))
        let dump = try ModelFile.read(path: try #require(fixture.file("dump")))
        #expect(model.modules.map(\.parameters) == dump.modules.map(\.parameters))
    }
}
