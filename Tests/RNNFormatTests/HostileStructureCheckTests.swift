import Foundation
import Testing
@testable import RNNFormat

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
