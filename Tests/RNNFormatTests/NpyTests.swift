import Foundation
import _RNNKitTestSupport
import RNNFormat
import Testing

/// The `.npy` reader and writer. Byte layouts below are written out from NumPy's format
/// documentation (magic, version, little-endian header length, dict literal, data), and the
/// element bit patterns are IEEE constants, so the expectations do not come from our own code.
@Suite("Npy")
struct NpyTests {
    /// A version 1.0 file with the given header dict and data bytes (header padded to 64 bytes like NumPy).
    static func file(_ dict: String, _ data: [UInt8], major: UInt8 = 1) -> [UInt8] {
        let prefixLength = major == 1 ? 10 : 12
        var header = dict
        let unpadded = prefixLength + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let h = Array(header.utf8)
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, major, 0]
        if major == 1 {
            out += [UInt8(h.count & 0xFF), UInt8(h.count >> 8)]
        } else {
            out += [UInt8(h.count & 0xFF), UInt8(h.count >> 8), 0, 0]
        }
        return out + h + data
    }

    static func decode(_ bytes: [UInt8]) throws -> NpyArray {
        try NpyArray(decoding: bytes, file: "x.npy")
    }

    static func error(_ bytes: [UInt8]) -> RNNFormatError? {
        do {
            _ = try decode(bytes)
            return nil
        } catch let e as RNNFormatError {
            return e
        } catch {
            return nil
        }
    }

    @Test func readsEveryElementType() throws {
        // 1.0 and -2.0 in each type's little-endian bit pattern.
        let f16 = try Self.decode(Self.file("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", [0x00, 0x3C, 0x00, 0xC0]))
        #expect(try f16.floatTensor == Tensor(shape: [2], scalars: [1, -2]))
        #expect(f16.values.typeName == "float16")

        let f32 = try Self.decode(Self.file("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }",
                                            [0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0]))
        #expect(try f32.floatTensor == Tensor(shape: [1, 2], scalars: [1, -2]))

        let f64 = try Self.decode(Self.file("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                                            [0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0, 0, 0, 0, 0, 0, 0, 0xC0]))
        #expect(try f64.floatTensor == Tensor(shape: [2], scalars: [1, -2]))
        #expect(f64.values == .float64([1, -2]))

        let i64 = try Self.decode(Self.file("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
                                            [7, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]))
        #expect(i64.integers == [7, -1])
        #expect(i64.floatTensor == nil)

        let i32 = try Self.decode(Self.file("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
                                            [3, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF]))
        #expect(i32.integers == [3, -2])

        let i8 = try Self.decode(Self.file("{'descr': '|i1', 'fortran_order': False, 'shape': (3,), }", [0x80, 0x7F, 0xFF]))
        #expect(i8.values == .int8([-128, 127, -1]))
    }

    @Test func readsScalarsEmptyArraysAndVersion2() throws {
        let scalar = try Self.decode(Self.file("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", [0, 0, 0x80, 0x3F]))
        #expect(scalar.shape == [])
        #expect(scalar.floatTensor?.scalars == [1])

        let empty = try Self.decode(Self.file("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", []))
        #expect(empty.shape == [0, 3])

        let v2 = try Self.decode(Self.file("{'shape': (1,), 'fortran_order': False, 'descr': '<i8'}", [5, 0, 0, 0, 0, 0, 0, 0], major: 2))
        #expect(v2.integers == [5])
    }

    @Test(arguments: [
        NpyArray(shape: [2, 3], values: .float32([0, -1.5, 2, .pi, -0, 1e-30])),
        NpyArray(shape: [3], values: .float64([1, -2.25, 1e300])),
        NpyArray(shape: [4], values: .float16([1, -2, 65504, 5.9604645e-08])),
        NpyArray(shape: [2], values: .int64([Int64.min, Int64.max])),
        NpyArray(shape: [1, 1, 2], values: .int32([-7, 9])),
        NpyArray(shape: [], values: .int8([-128])),
        NpyArray(shape: [0], values: .float32([])),
    ])
    func roundTripsThroughFile(array: NpyArray) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("a.npy")
        try array.write(path: path)
        #expect(try NpyArray.read(path: path) == array)
    }

    @Test func writtenHeaderIsNumpyStyle() throws {
        let bytes = NpyArray(try Tensor(shape: [2, 3], scalars: [Float](repeating: 0, count: 6))).encoded()
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        let header = String(decoding: bytes[10..<10 + headerLength], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"))
        #expect(header.hasSuffix("\n"))
        #expect(bytes.count == 10 + headerLength + 24)
    }

    @Test func float16RoundsToNearestEven() {
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even gives 1.0 (0x3C00).
        let tie = NpyArray(shape: [2], values: .float16([1 + 0x1p-11, 1 + 3 * 0x1p-11])).encoded()
        #expect(Array(tie.suffix(4)) == [0x00, 0x3C, 0x02, 0x3C])
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var code: RNNFormatError.Code
        var mentions: String
        var testDescription: String { name }
    }

    static let badCases: [BadCase] = [
        BadCase(name: "not npy", bytes: Array("hello world, not numpy".utf8), code: .notRecognized, mentions: "magic"),
        BadCase(name: "fortran", bytes: file("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", [0, 0, 0, 0]),
                code: .unsupportedType, mentions: "Fortran"),
        BadCase(name: "object", bytes: file("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", [0, 0, 0, 0, 0, 0, 0, 0]),
                code: .unsupportedType, mentions: "'|O'"),
        BadCase(name: "structured", bytes: file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", [0, 0, 0, 0]),
                code: .malformed, mentions: "structured"),
        BadCase(name: "big endian", bytes: file("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", [0, 0, 0, 0]),
                code: .unsupportedType, mentions: "big-endian"),
        BadCase(name: "uint8", bytes: file("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", [0]),
                code: .unsupportedType, mentions: "'|u1'"),
        BadCase(name: "truncated data", bytes: file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", [0, 0, 0, 0]),
                code: .truncated, mentions: "needs 16 data bytes, file has 4"),
        BadCase(name: "trailing data", bytes: file("{'descr': '|i1', 'fortran_order': False, 'shape': (1,), }", [0, 1]),
                code: .malformed, mentions: "1 unexpected bytes"),
        BadCase(name: "header cut", bytes: Array(file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", []).prefix(30)),
                code: .truncated, mentions: "header declares"),
        BadCase(name: "no shape", bytes: file("{'descr': '<f4', 'fortran_order': False, }", [0, 0, 0, 0]),
                code: .malformed, mentions: "no 'shape' key"),
        BadCase(name: "bad dim", bytes: file("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", []),
                code: .malformed, mentions: "non-negative integer"),
        BadCase(name: "garbage header", bytes: file("descr <f4", []), code: .malformed, mentions: "expected '{'"),
        BadCase(name: "huge shape", bytes: file("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", []),
                code: .malformed, mentions: "too large"),
        BadCase(name: "version 9", bytes: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 9, 0, 0, 0], code: .malformed, mentions: "version 9.0"),
    ]

    @Test(arguments: badCases)
    func rejectsBadFiles(bad: BadCase) throws {
        let error = try #require(Self.error(bad.bytes))
        #expect(error.code == bad.code)
        #expect(error.file == "x.npy")
        #expect(error.description.contains(bad.mentions), "\(error.description)")
    }

    @Test func typedReadersNameTheWrongType() throws {
        let directory = try TemporaryDirectory()
        let ints = directory.file("ints.npy")
        let floats = directory.file("floats.npy")
        try NpyArray(int64: [1, 2], shape: [2]).write(path: ints)
        try NpyArray(try Tensor(shape: [1], scalars: [1])).write(path: floats)
        #expect(throws: RNNFormatError.self) { try NpyArray.readFloatTensor(path: ints) }
        #expect(throws: RNNFormatError.self) { try NpyArray.readIntegers(path: floats) }
        #expect(try NpyArray.readIntegers(path: ints).values == [1, 2])
        do {
            _ = try NpyArray.readFloatTensor(path: ints)
        } catch let e as RNNFormatError {
            #expect(e.description == "\(ints): expected a float32 array (float16 and float64 are converted), found int64")
        }
        let missing = directory.file("missing.npy")
        #expect { try NpyArray.read(path: missing) } throws: { ($0 as? RNNFormatError)?.code == .io }
    }
}
