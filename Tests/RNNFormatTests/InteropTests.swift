import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport
@testable import RNNFormatWriter

/// Our files read by other tools: h5py (the reference reader of the ecosystem) and h5dump.
@Suite("Interop: h5py and h5dump read what we write")
struct InteropTests {
    /// Dumps every dataset and attribute of an HDF5 file as JSON, the way h5py sees them.
    static let dumpScript = """
        import h5py, json, sys, hashlib, numpy as np
        out = {"attrs": {}, "datasets": {}}
        def conv(v):
            if isinstance(v, (bytes, np.bytes_)): return {"str": v.decode()}
            if isinstance(v, str): return {"str": v}
            if isinstance(v, (bool, np.bool_)): return {"bool": bool(v)}
            if isinstance(v, np.ndarray): return {"array": v.tolist(), "dtype": str(v.dtype)}
            if isinstance(v, (np.integer, int)): return {"int": int(v)}
            return {"float": float(v)}
        def visit(name, obj):
            path = "/" + name
            out["attrs"][path] = {k: conv(v) for k, v in obj.attrs.items()}
            if isinstance(obj, h5py.Dataset):
                data = obj[()]
                le = data.astype(data.dtype.newbyteorder("<"))
                out["datasets"][path] = {"dtype": str(obj.dtype), "shape": list(obj.shape),
                    "values": data.astype(np.float64).ravel().tolist(), "sha256": hashlib.sha256(le.tobytes()).hexdigest()}
        with h5py.File(sys.argv[1], "r") as f:
            out["attrs"]["/"] = {k: conv(v) for k, v in f.attrs.items()}
            f.visititems(visit)
        print(json.dumps(out))
        """

    struct Dump: Decodable {
        struct Dataset: Decodable {
            var dtype: String
            var shape: [Int]
            var values: [Double]
            var sha256: String
        }
        var attrs: [String: [String: AttributeValue]]
        var datasets: [String: Dataset]
    }

    struct AttributeValue: Decodable, Equatable {
        var str: String?
        var bool: Bool?
        var int: Int?
        var float: Double?
        var array: [Double]?
        var dtype: String?
    }

    static func h5pyDump(_ path: String) throws -> Dump {
        let json = try Python.run(dumpScript, arguments: [path])
        return try JSONDecoder().decode(Dump.self, from: Data(json.utf8))
    }

    @Test("h5py reads datasets, dtypes, checksums and attributes exactly as we hold them",
          arguments: [ElementType.float32, .float16])
    func h5pyReadsOurFile(stored: ElementType) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("model.h5")
        let modules = [
            ModuleFactory.record(ModuleFactory.configs[3], path: "model.encoder", stored: stored, seed: 5),
            ModuleFactory.record(ModuleFactory.configs[4], path: "decoder", stored: stored, seed: 6),
            ModuleFactory.record(ModuleFactory.configs[8], path: "cell", stored: stored, seed: 7),
            ModuleFactory.record(ModuleFactory.configs[0], path: "quant", quantized: .perChannel, seed: 8),
        ]
        try ModelFile(metadata: FileMetadata(producer: "interop", user: ["origin": "test"]), modules: modules).write(to: path, overwrite: false)
        let dump = try Self.h5pyDump(path)

        let root = try #require(dump.attrs["/"])
        #expect(root["format"]?.str == "rnnkit")
        #expect(root["format_version"]?.str == "1.0")
        #expect(root["producer"]?.str == "interop")
        #expect(root["user.origin"]?.str == "test")

        var datasetCount = 0
        for module in modules {
            let group = try #require(dump.attrs[module.groupPath])
            let c = module.config
            #expect(group["module"]?.str == c.kind.rawValue)
            #expect(group["input_size"]?.int == c.inputSize)
            #expect(group["hidden_size"]?.int == c.hiddenSize)
            #expect(group["bias"]?.bool == c.bias, "h5py reads our booleans as numpy.bool_")
            if !c.kind.isCell {
                #expect(group["num_layers"]?.int == c.numLayers)
                #expect(group["batch_first"]?.bool == c.batchFirst)
                #expect(group["bidirectional"]?.bool == c.bidirectional)
                #expect(group["dropout"]?.float == c.dropout)
            }
            #expect((group["proj_size"]?.int).map { $0 == c.projSize } ?? (c.kind != .lstm))
            #expect((group["nonlinearity"]?.str).map { $0 == c.nonlinearity.rawValue } ?? !c.kind.hasNonlinearity)
            #expect(Set(group.keys) == Set(["module"] + HDF5Layout.constructorArguments(c.kind)))

            for (name, parameter) in module.parameters {
                let path = ObjectNaming.hdf5.name(prefix: module.path, name)
                let dataset = try #require(dump.datasets[path], "\(path)")
                datasetCount += 1
                #expect(dataset.shape == parameter.shape)
                let attributes = try #require(dump.attrs[path])
                let (bytes, _) = try HDF5ModelWriter.canonicalBytes(parameter, path: path, file: "")
                #expect(attributes["sha256"]?.str == dataset.sha256, "our checksum is SHA-256 of the little-endian bytes h5py reads")
                #expect(dataset.sha256 == SHA256.hex(of: bytes))
                switch parameter {
                case .float(let tensor, let type):
                    #expect(dataset.dtype == (type == .float16 ? "float16" : "float32"))
                    #expect(dataset.values == tensor.scalars.map(Double.init), "exact values in \(path)")
                case .quantized(let q):
                    #expect(dataset.dtype == "int8")
                    #expect(dataset.values == q.values.map(Double.init))
                    #expect(attributes["scale"]?.array == q.scales.map(Double.init))
                    #expect(attributes["scale"]?.dtype == "float32")
                    #expect(attributes["zero_point"]?.array == q.zeroPoints.map(Double.init))
                    #expect(attributes["zero_point"]?.dtype == "int32")
                    #expect(attributes["quantization"]?.str == "per_channel")
                }
            }
        }
        #expect(datasetCount == dump.datasets.count, "no dataset beyond the modules' parameters")
    }

    @Test("h5dump -H lists the layout of a file we wrote",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/h5dump"), "needs hdf5-tools"))
    func h5dumpReadsHeader() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("model.h5")
        try ModelFile(modules: [ModuleFactory.record(ModuleFactory.configs[2], path: "rnn")]).write(to: path, overwrite: false)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/h5dump")
        process.arguments = ["-H", path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(text.contains("GROUP \"rnn\""))
        #expect(text.contains("DATASET \"weight_hh_l0\""))
        #expect(text.contains("DATATYPE  H5T_IEEE_F32LE"))
        #expect(text.contains("DATASPACE  SIMPLE { ( 24, 6 ) / ( 24, 6 ) }"))
    }
}
