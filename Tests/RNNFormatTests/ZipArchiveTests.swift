import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport

@Suite("Zip reader: bounded, checked, refusing lies")
struct ZipArchiveTests {
    private func open(_ bytes: [UInt8], in directory: TemporaryDirectory, limits: ZipLimits = ZipLimits()) throws -> ZipArchive {
        let path = directory.file("a.zip")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        return try ZipArchive(file: try ByteSource(path: path), limits: limits)
    }

    private func code(_ body: () throws -> Void) -> RNNFormatError? {
        do { try body() } catch let e as RNNFormatError { return e } catch { Issue.record("unexpected \(error)") }
        return nil
    }

    @Test("stored and deflated members read back byte for byte")
    func readsMembers() throws {
        let dir = try TemporaryDirectory()
        let text = Array(String(repeating: "recurrent ", count: 500).utf8)
        var zip = ZipTestBuilder()
        zip.stored("a/stored", [1, 2, 3])
        zip.deflated("a/deflated", text)
        let archive = try open(zip.bytes(), in: dir)
        #expect(archive.entries.map(\.name) == ["a/stored", "a/deflated"])
        #expect(try archive.read(try #require(archive.entry(named: "a/stored")), maxBytes: 10) == [1, 2, 3])
        #expect(try archive.read(try #require(archive.entry(named: "a/deflated")), maxBytes: 1 << 20) == text)
    }

    @Test("the bomb stream is genuine: honestly declared, 16 MiB of zeros inflate in full")
    func honestZeros() throws {
        let dir = try TemporaryDirectory()
        let zeros = [UInt8](repeating: 0, count: 16 << 20)
        var zip = ZipTestBuilder()
        zip.members.append(.init(name: "z", data: ZipTestBuilder.zeroBomb(mebibytes: 16), method: 8,
                                 crc32: ZipTestBuilder.crc(zeros), uncompressedSize: UInt64(zeros.count)))
        let archive = try open(zip.bytes(), in: dir)
        #expect(try archive.read(archive.entries[0], maxBytes: 32 << 20) == zeros)
    }

    @Test("a CRC-32 mismatch is reported")
    func crcMismatch() throws {
        let dir = try TemporaryDirectory()
        var zip = ZipTestBuilder()
        zip.stored("m", [9, 9, 9])
        zip.members[0].crc32 ^= 1
        let archive = try open(zip.bytes(), in: dir)
        let error = code { _ = try archive.read(archive.entries[0], maxBytes: 10) }
        #expect(error?.code == .checksumMismatch)
        #expect(error?.object == "m")
    }

    @Test("a member declaring 1 KiB that would inflate to 4 GiB is stopped with bounded memory")
    func zipBombSizeLie() throws {
        let dir = try TemporaryDirectory()
        let bomb = ZipTestBuilder.zeroBomb(mebibytes: 4096)
        #expect(bomb.count < 8 << 20)
        var zip = ZipTestBuilder()
        zip.members.append(.init(name: "archive/data.pkl", data: bomb, method: 8, crc32: 0, uncompressedSize: 1024))
        let archive = try open(zip.bytes(), in: dir)
        let started = ContinuousClock.now
        let error = code { _ = try archive.read(archive.entries[0], maxBytes: 1 << 30) }
        #expect(error?.code == .refused)
        #expect(error?.message.contains("inflates beyond its declared size of 1024 bytes") == true)
        // Stopping after one output chunk: no seconds of work (and no gigabytes of memory:
        // HostileMemoryTests reads this bomb alone).
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    @Test("a member declaring 4 GiB is refused before inflating: over the caller's cap, over 1032x the archive")
    func zipBombDeclared() throws {
        let dir = try TemporaryDirectory()
        let bomb = ZipTestBuilder.zeroBomb(mebibytes: 4096)
        var zip = ZipTestBuilder()
        zip.members.append(.init(name: "m", data: bomb, method: 8, crc32: 0, uncompressedSize: 4 << 30))
        let bytes = zip.bytes()
        let archive = try open(bytes, in: dir)
        let capped = code { _ = try archive.read(archive.entries[0], maxBytes: 256 << 20) }
        #expect(capped?.code == .refused)
        #expect(capped?.message.contains("more than the 268435456 allowed") == true)
        let tight = try open(bytes, in: dir, limits: ZipLimits(maxExpansionRatio: 100))
        let ratio = code { _ = try tight.read(tight.entries[0], maxBytes: Int.max) }
        #expect(ratio?.code == .refused)
        #expect(ratio?.message.contains("times the archive size") == true)
    }

    @Test("a stored member whose sizes disagree is malformed")
    func storedSizeLie() throws {
        let dir = try TemporaryDirectory()
        var zip = ZipTestBuilder()
        zip.stored("m", [1, 2, 3, 4])
        zip.members[0].uncompressedSize = 1 << 20
        let archive = try open(zip.bytes(), in: dir)
        let error = code { _ = try archive.read(archive.entries[0], maxBytes: 1 << 30) }
        #expect(error?.code == .malformed)
        #expect(error?.message.contains("stored member has compressed size 4 but uncompressed size 1048576") == true)
    }

    @Test("a corrupt deflate stream is malformed, a cut one is truncated")
    func corruptDeflate() throws {
        let dir = try TemporaryDirectory()
        let text = Array(String(repeating: "abc", count: 1000).utf8)
        var zip = ZipTestBuilder()
        zip.deflated("bad", text)
        zip.members[0].data = [0xFF, 0xFF, 0xFF] + zip.members[0].data
        zip.deflated("cut", text)
        zip.members[1].data.removeLast(zip.members[1].data.count / 2)
        let archive = try open(zip.bytes(), in: dir)
        #expect(code { _ = try archive.read(archive.entries[0], maxBytes: 1 << 20) }?.code == .malformed)
        #expect(code { _ = try archive.read(archive.entries[1], maxBytes: 1 << 20) }?.code == .truncated)
    }

    @Test("directory damage is refused with the member named")
    func directoryDamage() throws {
        let dir = try TemporaryDirectory()
        var zip = ZipTestBuilder()
        zip.stored("a", [1, 2, 3])
        zip.stored("b", [4, 5, 6])
        var bytes = zip.bytes()
        // The central directory starts with entry "a": make its local header offset point into "b".
        let eocd = bytes.count - 22
        let directory = Int(bytes.littleEndianUInt32(at: eocd + 16))
        bytes[directory + 42] = 40
        #expect(code { _ = try open(bytes, in: dir) }?.code == .malformed)

        var duplicate = ZipTestBuilder()
        duplicate.stored("same", [1])
        duplicate.stored("same", [2])
        let dupError = code { _ = try open(duplicate.bytes(), in: dir) }
        #expect(dupError?.code == .malformed)
        #expect(dupError?.message.contains("duplicate member name") == true)

        var big = zip.bytes()
        big[big.count - 22 + 16] = 0xFF  // central directory offset beyond the file
        big[big.count - 22 + 17] = 0xFF
        #expect(code { _ = try open(big, in: dir) }?.code == .malformed)
    }

    @Test("members whose data overlap are refused")
    func overlappingMembers() throws {
        let dir = try TemporaryDirectory()
        var zip = ZipTestBuilder()
        zip.stored("a", Array(repeating: 7, count: 64))
        zip.stored("b", [1])
        var bytes = zip.bytes()
        let eocd = bytes.count - 22
        let directory = Int(bytes.littleEndianUInt32(at: eocd + 16))
        let secondEntry = directory + 46 + 1
        // Point "b"'s local header inside "a"'s data, where a valid-looking header is planted.
        let plantedAt = 30 + 1 + 8
        let header: [UInt8] = [0x50, 0x4B, 3, 4, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0] + Array(bytes[(30 + 1 + 64 + 14)..<(30 + 1 + 64 + 26)]) + [1, 0, 0, 0] + [UInt8(ascii: "b")]
        bytes.replaceSubrange(plantedAt..<(plantedAt + header.count), with: header)
        bytes[secondEntry + 42] = UInt8(plantedAt)
        bytes[secondEntry + 43] = 0
        let error = code { _ = try open(bytes, in: dir) }
        #expect(error?.code == .malformed)
        #expect(error?.message.contains("overlaps") == true)
    }

    @Test("bytes that are not a zip are not recognized", arguments: [[UInt8](), Array("hello, world".utf8), [UInt8](repeating: 0, count: 100)])
    func notZip(_ bytes: [UInt8]) throws {
        let dir = try TemporaryDirectory()
        #expect(code { _ = try open(bytes, in: dir) }?.code == .notRecognized)
    }
}
