import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport

/// Pieces of HDF5StructureCheck that the hostile corpora do not pin down on their own.
@Suite("HDF5 structure checks")
struct HostileStructureCheckTests {
    /// Values from lookup3.c's own driver (`driver2`).
    @Test("lookup3 matches Jenkins' reference values", arguments: [
        ("", UInt32(0xDEAD_BEEF)),
        ("Four score and seven years ago", UInt32(0x1777_0551)),
    ])
    func lookup3(text: String, expected: UInt32) {
        #expect(HDF5Checksum.lookup3(ArraySlice(Array(text.utf8))) == expected)
    }

    /// libhdf5 stores the checksum after superblocks of versions 2 and 3; the check trusts a
    /// superblock extension only when it holds.
    @Test("superblock checksums of libhdf5-written files verify", arguments: ["latest_format.h5", "paged_file_space.h5"])
    func superblockChecksum(name: String) throws {
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: HostileFile.directory + "/" + name)))
        #expect([2, 3].contains(bytes[8]))
        let length = 12 + 4 * Int(bytes[9])
        let stored = UInt32(bytes[length]) | UInt32(bytes[length + 1]) << 8 | UInt32(bytes[length + 2]) << 16 | UInt32(bytes[length + 3]) << 24
        #expect(HDF5Checksum.lookup3(bytes[0..<length]) == stored)
    }

    @Test("old-style groups under a version 2 superblock use libhdf5's default K and load")
    func pagedFileSpace() throws {
        let path = HostileFile.directory + "/paged_file_space.h5"
        try HDF5RawFile.withFile(path: path) { raw in
            let check = try HDF5StructureCheck(raw: raw)
            #expect(raw.version == 2)
            #expect(check.groupLeafK == 4 && check.groupInternalK == 16)
        }
    }
}

/// Link messages damaged field by field. libhdf5 1.10 crashes on a group with a link message it
/// cannot decode (it frees the unfilled entries of its link table), so the structure check must
/// refuse each one before libhdf5 opens the file.
@Suite("HDF5 link message checks")
struct HostileLinkMessageTests {
    struct Damage: Sendable, CustomTestStringConvertible {
        /// Which link message: the hard link "rnn" or the external link "outside" (root group of
        /// external_link.h5, an object header of version 1).
        var hard: Bool
        /// Offset within the message's data, and the byte written there.
        var offset: Int
        var value: UInt8
        /// Substring of the error; nil when the check must accept the message.
        var expect: String?
        var testDescription: String { "\(hard ? "rnn" : "outside") byte \(offset) = \(value)" }
    }

    // Data of the two messages: version, flags, [link type], name length, name, then the
    // address (hard) or the data length and data (external).
    static let hardLink: [UInt8] = [1, 0, 3] + Array("rnn".utf8)
    static let externalLink: [UInt8] = [1, 0x08, 64, 7] + Array("outside".utf8)

    static let damages: [Damage] = [
        Damage(hard: true, offset: 0, value: 2, expect: "link message at byte 10296: version 2, expected 1"),
        Damage(hard: true, offset: 1, value: 0x20, expect: "link message at byte 10296: flags 0x20, expected only bits 0x1f"),
        Damage(hard: true, offset: 1, value: 0x10, expect: "link message at byte 10296: character set 3, expected 0 (ASCII) or 1 (UTF-8)"),
        Damage(hard: true, offset: 1, value: 0x03, expect: "link message at byte 10296: name of 4537338196483 bytes runs past the message (6 of 16 bytes left)"),
        Damage(hard: true, offset: 2, value: 0, expect: "link message at byte 10296: name of 0 bytes"),
        Damage(hard: true, offset: 2, value: 15, expect: "link message at byte 10296: name of 15 bytes runs past the message (13 of 16 bytes left)"),
        Damage(hard: true, offset: 4, value: 0, expect: "link message at byte 10296: name of 3 bytes holds a NUL byte"),
        Damage(hard: false, offset: 2, value: 2, expect: "link message at byte 10320: link type 2, expected 0 (hard), 1 (soft) or 64-255 (user-defined)"),
        Damage(hard: false, offset: 11, value: 0x1F, expect: "link message at byte 10320: link outside: external link data of 31 bytes runs past the message (19 of 32 bytes left)"),
        Damage(hard: false, offset: 11, value: 2, expect: "link message at byte 10320: link outside: external link data of 2 bytes, expected at least 3"),
        Damage(hard: false, offset: 2, value: 65, expect: "/outside: user-defined link refused"),
        Damage(hard: false, offset: 2, value: 1, expect: "/outside: soft link refused"),
    ]

    @Test("each damaged field gives its one-line error before libhdf5 decodes it", arguments: damages)
    func damaged(_ damage: Damage) throws {
        let source = HostileFile.directory + "/external_link.h5"
        var bytes = [UInt8](try #require(FileManager.default.contents(atPath: source)))
        let pattern = damage.hard ? Self.hardLink : Self.externalLink
        let at = try #require((0...(bytes.count - pattern.count)).first { bytes[$0..<($0 + pattern.count)].elementsEqual(pattern) })
        bytes[at + damage.offset] = damage.value
        let directory = try TemporaryDirectory()
        let path = directory.file("damaged.h5")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let refusedBeforeOpening = damage.expect?.contains("link message at byte") == true
        if refusedBeforeOpening {
            // Guard: never hand libhdf5 a message the check no longer refuses (it would crash).
            let passed = (try? HDF5RawFile.withFile(path: path) { _ = try HDF5StructureCheck(raw: $0) }) != nil
            #expect(!passed, "the structure check accepted the damaged message")
            guard !passed else { return }
        }
        let error = HostileBounds.measure(path) { _ = try ModelFile.read(path: path) }
        HostileBounds.expectClear(error, path: path)
        let description = (error as? RNNFormatError)?.description ?? String(describing: error)
        #expect(description.contains(try #require(damage.expect)), "got \(description)")
    }
}
