import Testing
@testable import RNNFormat
import _RNNKitTestSupport
import RNNFormatWriter

@Suite("Model file write/read round trips")
struct ModelFileRoundTripTests {
    static let storedTypes: [ElementType] = [.float32, .float16]

    @Test("every kind and stored float type reads back bit-identical", arguments: ModuleFactory.configs, storedTypes)
    func roundTrip(config: ModuleConfig, stored: ElementType) throws {
        let directory = try TemporaryDirectory()
        let record = ModuleFactory.record(config, stored: stored)
        let model = ModelFile(metadata: FileMetadata(producer: "test", user: ["note": "round trip"]), modules: [record])
        let path = directory.file("model.h5")
        try model.write(to: path, overwrite: false)

        let back = try ModelFile.read(path: path)
        #expect(back.modules == [record])
        #expect(back.leftovers.isEmpty)
        #expect(back.metadata.formatVersion == FileMetadata.currentVersion)
        #expect(back.metadata.producer == "test")
        #expect(back.metadata.user == ["note": "round trip"])
    }

    @Test("float64 and bfloat16 sources are written as float32 with the same float32 values")
    func narrowedTypes() throws {
        let directory = try TemporaryDirectory()
        for stored in [ElementType.float64, .bfloat16] {
            let record = ModuleFactory.record(ModuleFactory.configs[0], stored: stored)
            let path = directory.file("\(stored).h5")
            try ModelFile(modules: [record]).write(to: path, overwrite: false)
            let back = try #require(try ModelFile.read(path: path).modules.first)
            for (name, parameter) in record.parameters {
                #expect(back.parameters[name] == .float(parameter.floatValue, stored: .float32), "\(name)")
            }
        }
    }

    @Test("int8 weights round-trip with scales and zero points", arguments: [QuantizedTensor.Scheme.perTensor, .perChannel])
    func quantized(scheme: QuantizedTensor.Scheme) throws {
        let directory = try TemporaryDirectory()
        let records = [ModuleFactory.configs[0], ModuleFactory.configs[3], ModuleFactory.configs[6]].enumerated().map {
            ModuleFactory.record($1, path: "q\($0)", quantized: scheme, seed: UInt64($0))
        }
        let path = directory.file("q.h5")
        try ModelFile(modules: records).write(to: path, overwrite: false)
        let back = try ModelFile.read(path: path)
        #expect(back.modules == records)
        #expect(back.modules.allSatisfy { $0.quantization == scheme })
    }

    @Test("several modules, one at the root of a nested prefix, keep their paths")
    func severalModules() throws {
        let directory = try TemporaryDirectory()
        let records = [
            ModuleFactory.record(ModuleFactory.configs[0], path: "model.encoder", seed: 1),
            ModuleFactory.record(ModuleFactory.configs[3], path: "model.decoder", seed: 2),
            ModuleFactory.record(ModuleFactory.configs[7], path: "cell", seed: 3),
        ]
        let path = directory.file("multi.h5")
        try ModelFile(modules: records).write(to: path, overwrite: false)
        let back = try ModelFile.read(path: path)
        #expect(back.modules == records.sorted { $0.path < $1.path })
        #expect(back.modules.map(\.groupPath) == ["/cell", "/model/decoder", "/model/encoder"])
    }

    @Test("a module without prefix lives at the root")
    func rootModule() throws {
        let directory = try TemporaryDirectory()
        let record = ModuleFactory.record(ModuleFactory.configs[2], path: "")
        let path = directory.file("root.h5")
        try ModelFile(modules: [record]).write(to: path, overwrite: false)
        #expect(try ModelFile.read(path: path).modules == [record])
    }
}
