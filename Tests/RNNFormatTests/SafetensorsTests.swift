import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport

/// A safetensors file from a header (JSON text, or raw bytes) and a data buffer.
private func safetensors(header: [UInt8], data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
    let n = declaredLength ?? UInt64(header.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + header + data
}

private func write(_ bytes: [UInt8], _ dir: TemporaryDirectory, _ name: String = "m.safetensors") throws -> String {
    let path = dir.file(name)
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw CocoaError(.fileWriteUnknown) }
    return path
}

/// A GRU(2, 3) state_dict header with all offsets consistent, float32.
private func gruHeader(extra: String = "") -> (String, [UInt8]) {
    let shapes: [(String, [Int])] = [("weight_ih_l0", [9, 2]), ("weight_hh_l0", [9, 3]), ("bias_ih_l0", [9]), ("bias_hh_l0", [9])]
    var offset = 0
    var members: [String] = []
    for (name, shape) in shapes {
        let bytes = shape.reduce(4, *)
        members.append("\"rnn.\(name)\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[\(offset),\(offset + bytes)]}")
        offset += bytes
    }
    return ("{" + members.joined(separator: ",") + extra + "}", [UInt8](repeating: 0, count: offset))
}

@Suite("safetensors: reading enforces the format's rules; writing round-trips")
struct SafetensorsTests {
    static let hostileHeaders: [(name: String, header: String, data: Int, expect: String)] = [
        ("unknown dtype", #"{"w":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}"#, 4, "unknown dtype 'F7'"),
        ("shape and bytes disagree", #"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#, 12, "needs 16 bytes, data_offsets give 12"),
        ("shape product overflows", #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#, 16, "overflowing"),
        ("negative dimension", #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, 4, "not a non-negative integer"),
        ("offsets past the buffer", #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 4, "outside the data buffer of 4 bytes"),
        ("offsets reversed", #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, 4, "outside the data buffer"),
        ("overlapping tensors", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8, "overlap"),
        ("hole in the buffer", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, 12, "hole"),
        ("bytes after the last tensor", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 8, "cover 4 bytes but the data buffer holds 8"),
        ("duplicate tensor name", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 4, "duplicate key 'a'"),
        ("offset written as a float", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4.0]}}"#, 4, "data_offsets is not a pair of integers"),
        ("unknown field", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"crc":1}}"#, 4, "unknown field 'crc'"),
        ("metadata value not a string", #"{"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 4, "__metadata__ value of 'k' is not a string"),
        ("not JSON", #"{"a": nope}"#, 0, "not valid JSON"),
        ("trailing garbage", #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} x"#, 4, "not valid JSON: unexpected data after the JSON value"),
        ("lone surrogate", #"{"\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 4, "lone surrogate"),
        ("nesting", "{\"a\":" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}", 0, "nesting deeper than 64"),
        ("header not an object", "[1]", 0, "does not start with '{'"),
    ]

    @Test("malformed headers are refused with a precise message", arguments: hostileHeaders)
    func hostileHeader(_ c: (name: String, header: String, data: Int, expect: String)) throws {
        let dir = try TemporaryDirectory()
        let path = try write(safetensors(header: Array(c.header.utf8), data: [UInt8](repeating: 0, count: c.data)), dir)
        let error = #expect(throws: RNNFormatError.self) { try SafetensorsFile.read(path: path) }
        #expect(error?.code == .malformed, "\(c.name)")
        #expect(error?.description.contains(c.expect) == true, "\(c.name): \(String(describing: error))")
    }

    @Test("header length: beyond 100 MB, beyond the file, invalid UTF-8")
    func headerLength() throws {
        let dir = try TemporaryDirectory()
        let huge = try write(safetensors(header: Array("{}".utf8), data: [], declaredLength: 1 << 40), dir, "huge.safetensors")
        let e1 = #expect(throws: RNNFormatError.self) { try SafetensorsFile.read(path: huge) }
        #expect(e1?.message.contains("exceeds the limit of 100000000 bytes") == true)
        let long = try write(safetensors(header: Array("{}".utf8), data: [], declaredLength: 1000), dir, "long.safetensors")
        let e2 = #expect(throws: RNNFormatError.self) { try SafetensorsFile.read(path: long) }
        #expect(e2?.code == .truncated)
        let utf8 = try write(safetensors(header: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], data: []), dir, "utf8.safetensors")
        let e3 = #expect(throws: RNNFormatError.self) { try SafetensorsFile.read(path: utf8) }
        #expect(e3?.message.contains("not valid UTF-8") == true)
        // Dispatch by content: ModelFile.read routes all three here and reports the same.
        let e4 = #expect(throws: RNNFormatError.self) { try ModelFile.read(path: long) }
        #expect(e4?.code == .truncated)
    }

    @Test("a state_dict header imports by inference; an int8 weight needs its scale and zero point")
    func inference() throws {
        let dir = try TemporaryDirectory()
        let (header, data) = gruHeader()
        let model = try SafetensorsFile.read(path: try write(safetensors(header: Array(header.utf8), data: data), dir))
        #expect(model.modules.map(\.path) == ["rnn"])
        #expect(model.modules.first?.config == ModuleConfig(kind: .gru, inputSize: 2, hiddenSize: 3))
        #expect(model.metadata.formatVersion == nil)

        let int8 = #"{"rnn.weight_ih":{"dtype":"I8","shape":[3,2],"data_offsets":[0,6]}}"#
        let error = #expect(throws: RNNFormatError.self) {
            try SafetensorsFile.read(path: try write(safetensors(header: Array(int8.utf8), data: [UInt8](repeating: 1, count: 6)), dir, "q.safetensors"))
        }
        #expect(error?.code == .missingTensor)
        #expect(error?.message.contains("rnn.weight_ih.scale (F32) and rnn.weight_ih.zero_point (I32)") == true)
    }

    static let variants: [(ElementType, QuantizedTensor.Scheme?)] = [(.float32, nil), (.float16, nil), (.float32, .perTensor), (.float32, .perChannel)]
    static let roundTripCases: [(ModuleConfig, ElementType, QuantizedTensor.Scheme?)] = ModuleFactory.configs.flatMap { c in
        variants.map { (c, $0.0, $0.1) }
    }

    @Test("write then read gives the same modules, hyperparameters and metadata", arguments: roundTripCases)
    func roundTrip(_ c: (ModuleConfig, ElementType, QuantizedTensor.Scheme?)) throws {
        let dir = try TemporaryDirectory()
        let record = ModuleFactory.record(c.0, path: "model.rnn", stored: c.1, quantized: c.2)
        let other = ModuleFactory.record(ModuleConfig(kind: .lstmCell, inputSize: 3, hiddenSize: 2), path: "", seed: 9)
        let model = ModelFile(metadata: FileMetadata(producer: "tests", user: ["note": "hé \"quoted\"\n"]), modules: [other, record])
        let path = dir.file("m.safetensors")
        try SafetensorsFile.write(model, to: path, overwrite: false)
        let back = try ModelFile.read(path: path)
        #expect(back.modules == model.modules)
        #expect(back.metadata == model.metadata)
        #expect(back.leftovers.isEmpty)
        #expect(dir.entries() == ["m.safetensors"], "no temporary file left")
    }

    @Test("PyTorch's bfloat16 and int8 checkpoints export and re-import exactly")
    func fixtureRoundTrip() throws {
        let dir = try TemporaryDirectory()
        for source in ["checkpoints/lstm_proj_bi_2l_bfloat16/model.pt", "checkpoints/lstm_proj_bi_2l_float16/model.safetensors",
                       "quant/qgru_bi_2l/qmodel.pt", "quant/qlstm_cell/qmodel.pt"] {
            let model = try ModelFile.read(path: Fixtures.root + "/" + source)
            let path = dir.file(source.replacingOccurrences(of: "/", with: "_") + ".safetensors")
            try SafetensorsFile.write(model, to: path, overwrite: false)
            let back = try ModelFile.read(path: path)
            // Equal parameters include the stored element type (bfloat16, float16, int8).
            #expect(back.modules == model.modules, "\(source)")
        }
    }

    @Test("an existing output is kept unless overwriting is asked for")
    func overwrite() throws {
        let dir = try TemporaryDirectory()
        let path = try write(Array("precious".utf8), dir)
        let model = ModelFile(modules: [ModuleFactory.record(ModuleConfig(kind: .gru, inputSize: 2, hiddenSize: 3))])
        let error = #expect(throws: RNNFormatError.self) { try SafetensorsFile.write(model, to: path, overwrite: false) }
        #expect(error?.code == .alreadyExists)
        #expect(FileManager.default.contents(atPath: path) == Data("precious".utf8))
        try SafetensorsFile.write(model, to: path, overwrite: true)
        #expect(try SafetensorsFile.read(path: path).modules == model.modules)
        #expect(dir.entries() == ["m.safetensors"])
    }

    @Test("declared hyperparameters must agree with the tensors")
    func metadataContradiction() throws {
        let dir = try TemporaryDirectory()
        let (header, data) = gruHeader(extra: #","__metadata__":{"format":"rnnkit","format_version":"1.0","rnnkit.modules":"[{\"path\":\"rnn\",\"module\":\"GRU\",\"input_size\":2,\"hidden_size\":4,\"num_layers\":1,\"proj_size\":0,\"bias\":true,\"batch_first\":true,\"bidirectional\":false,\"dropout\":0.0,\"nonlinearity\":\"tanh\"}]"}"#)
        let error = #expect(throws: RNNFormatError.self) { try SafetensorsFile.read(path: try write(safetensors(header: Array(header.utf8), data: data), dir)) }
        #expect(error?.code == .invalidAttribute)
        #expect(error?.message.contains("declares GRU(input_size 2, hidden_size 4") == true)
        let newer = gruHeader(extra: #","__metadata__":{"format":"rnnkit","format_version":"2.0"}"#)
        let e2 = #expect(throws: RNNFormatError.self) { try SafetensorsFile.read(path: try write(safetensors(header: Array(newer.0.utf8), data: newer.1), dir, "v2.safetensors")) }
        #expect(e2?.code == .unsupportedVersion)
    }
}
