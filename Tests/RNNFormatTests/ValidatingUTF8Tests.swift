import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport

@Suite("UTF-8 validation: what String(validating:as:) refuses, without needing macOS 15")
struct ValidatingUTF8Tests {
    /// Sequences at the edges of well-formed UTF-8 (The Unicode Standard, table 3-7).
    static let edges: [(bytes: [UInt8], wellFormed: Bool)] = [
        ([], true), (Array("ascii".utf8), true), ([0x00], true), ([0xC3, 0xA9], true),
        ([0xEF, 0xBF, 0xBD], true),            // U+FFFD itself
        ([0xF0, 0x9F, 0x98, 0x80], true), ([0xF4, 0x8F, 0xBF, 0xBF], true),  // U+1F600, U+10FFFF
        ([0x80], false),                       // lone continuation byte
        ([0xC3], false), ([0x41, 0xE2, 0x82], false),  // cut sequences
        ([0xC0, 0xAF], false), ([0xE0, 0x80, 0xAF], false),  // overlong
        ([0xED, 0xA0, 0x80], false),           // surrogate U+D800
        ([0xF4, 0x90, 0x80, 0x80], false),     // above U+10FFFF
        ([0xF8, 0x88, 0x80, 0x80, 0x80], false), ([0xFF], false),
    ]

    @Test("edge sequences, alone and as a slice inside other bytes", arguments: edges)
    func edgeSequences(bytes: [UInt8], wellFormed: Bool) {
        #expect(String(validatingUTF8Bytes: bytes).map { Array($0.utf8) } == (wellFormed ? bytes : nil))
        let framed = [0x41] + bytes + [0x42]
        #expect((String(validatingUTF8Bytes: framed[1..<framed.count - 1]) != nil) == wellFormed)
    }

    @Test("10000 random sequences get String(validating:as:)'s answer")
    func sameAsStandardLibrary() {
        guard #available(macOS 15, iOS 18, *) else { return }
        var generator = SeededGenerator(seed: 15)
        for _ in 0..<10_000 {
            // Encoded scalars of every length, then often one byte changed, so that both answers occur.
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...4, using: &generator) {
                let scalar = Unicode.Scalar(UInt32.random(in: 0...0x10FFFF, using: &generator)) ?? "\u{FFFD}"
                bytes += Array(String(scalar).utf8)
            }
            if !bytes.isEmpty, Bool.random(using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            #expect(String(validatingUTF8Bytes: bytes) == String(validating: bytes, as: UTF8.self), "\(bytes)")
        }
    }

    @Test("each reader still refuses ill-formed UTF-8 where it did")
    func readersRefuse() throws {
        let json = #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse([0x22, 0xFF, 0x22]) }
        #expect(json?.message == "invalid UTF-8 in a string")

        let global = #expect(throws: RNNFormatError.self) {
            try Unpickler.load([0x80, 2, 0x63, 0xFF, 0x0A, 0x78, 0x0A, 0x2E], file: "f", member: "m")  // GLOBAL
        }
        #expect(global?.message.contains("text argument is not UTF-8") == true, "\(String(describing: global))")
        let unicode = #expect(throws: RNNFormatError.self) {
            try Unpickler.load([0x80, 2, 0x58, 1, 0, 0, 0, 0xFF, 0x2E], file: "f", member: "m")  // BINUNICODE
        }
        #expect(unicode?.message.contains("string is not valid UTF-8") == true, "\(String(describing: unicode))")

        let dir = try TemporaryDirectory()
        var zip = ZipTestBuilder()
        zip.stored("a", [1])
        var bytes = zip.bytes()
        let directory = Int(bytes.littleEndianUInt32(at: bytes.count - 22 + 16))
        bytes[directory + 46] = 0xFF  // the first byte of entry 0's name
        let path = dir.file("a.zip")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let name = #expect(throws: RNNFormatError.self) { try ZipArchive(file: try ByteSource(path: path), limits: ZipLimits()) }
        #expect(name?.message.contains("member name of entry 0 is not valid UTF-8") == true, "\(String(describing: name))")
    }
}
