import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport
import RNNFormatWriter

/// Pieces of the HDF5 reader that the hostile corpora do not pin down on their own.
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

    @Test("old-style groups under a version 2 superblock load (the superblock stores no K)")
    func pagedFileSpace() throws {
        let path = HostileFile.directory + "/paged_file_space.h5"
        let reader = try HDF5Reader(source: ByteSource(path: path))
        #expect(reader.superblockVersion == 2)
        #expect(try !ModelFile.read(path: path).modules.isEmpty)
    }
}

/// Link messages damaged field by field: each field is checked against the message before it is
/// used, and every damage gives its own one-line error.
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
        Damage(hard: true, offset: 0, value: 2, expect: "/: damaged link message at byte 10296: version 2 (expected 1)"),
        Damage(hard: true, offset: 1, value: 0x20, expect: "/: damaged link message at byte 10296: unknown flags 0x20"),
        Damage(hard: true, offset: 1, value: 0x10, expect: "/: damaged link message at byte 10296: name character set 3 (expected 0 ASCII or 1 UTF-8)"),
        Damage(hard: true, offset: 1, value: 0x03, expect: "/: link name of 4537338196483 bytes (at most 1024 allowed)"),
        Damage(hard: true, offset: 2, value: 0, expect: "/: damaged link: an empty name or a name with a NUL byte"),
        Damage(hard: true, offset: 2, value: 15, expect: "/: damaged link message at byte 10296: it ends inside its name"),
        Damage(hard: true, offset: 4, value: 0, expect: "/: damaged link: an empty name or a name with a NUL byte"),
        Damage(hard: false, offset: 2, value: 2, expect: "/: damaged link message at byte 10320: link type 2 (expected 0, 1, 64 or 65-255)"),
        // An external link is refused by its type; its data is never decoded.
        Damage(hard: false, offset: 11, value: 0x1F, expect: "/outside: external link refused"),
        Damage(hard: false, offset: 11, value: 2, expect: "/outside: external link refused"),
        Damage(hard: false, offset: 2, value: 65, expect: "/outside: user-defined link refused"),
        Damage(hard: false, offset: 2, value: 1, expect: "/outside: soft link refused"),
    ]

    @Test("each damaged field gives its one-line error", arguments: damages)
    func damaged(_ damage: Damage) throws {
        let source = HostileFile.directory + "/external_link.h5"
        var bytes = [UInt8](try #require(FileManager.default.contents(atPath: source)))
        let pattern = damage.hard ? Self.hardLink : Self.externalLink
        let at = try #require((0...(bytes.count - pattern.count)).first { bytes[$0..<($0 + pattern.count)].elementsEqual(pattern) })
        bytes[at + damage.offset] = damage.value
        let directory = try TemporaryDirectory()
        let path = directory.file("damaged.h5")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = HostileBounds.measure(path) { _ = try ModelFile.read(path: path) }
        HostileBounds.expectClear(error, path: path)
        let description = (error as? RNNFormatError)?.description ?? String(describing: error)
        #expect(description.contains(try #require(damage.expect)), "got \(description)")
    }
}
