import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport

/// Messages libhdf5 decodes while opening a dataset, damaged field by field. libhdf5 1.10 reads
/// their names and values without comparing them to the message's size (an enum whose member
/// names run past its message crashed it in `strdup`), so the object header check must refuse
/// each one before `H5Dopen2`.
@Suite("HDF5 dataset message checks")
struct HostileDatasetMessageTests {
    struct Damage: Sendable, CustomTestStringConvertible {
        /// A file of fixtures/hostile/hdf5 whose /rnn/weight_ih_l0 has its (version 1) object
        /// header at address `HostileDatasetMessageTests.header`.
        var file: String
        /// Absolute file offset, and the bytes written there.
        var at: Int
        var bytes: [UInt8]
        /// Substring of the error.
        var expect: String
        var testDescription: String { "\(file) byte \(at) = \(bytes.prefix(4))" }
    }

    static let header: UInt64 = 6744
    static let object = "/rnn/weight_ih_l0"

    // Message data offsets in these files: dataspace at 6768 (version 1, rank 2, maximum
    // dimensions); bool_weight.h5: enum datatype at 6816 (version 1, 2 members over a 1-byte
    // integer), fill value at 6864 (version 2, defined, size 0); compound_weight.h5: compound
    // datatype at 6816 (version 1, members "re" and "im"); allowed_filters.h5: filter pipeline
    // at 6864 (version 1: shuffle, deflate, fletcher32); external_storage.h5: external file
    // list at 6864 (one slot, name at heap offset 8).
    static let damages: [Damage] = [
        Damage(file: "bool_weight.h5", at: 6818, bytes: [0x80],
               expect: "datatype message at byte 6816: enum member 2 of 32770: name of 1 bytes padded to 8 runs past the message (4 of 40 bytes left)"),
        Damage(file: "bool_weight.h5", at: 6836, bytes: Array(repeating: 1, count: 20),
               expect: "datatype message at byte 6816: enum member 0 of 2: name is not NUL-terminated within the message (20 of 40 bytes left)"),
        Damage(file: "bool_weight.h5", at: 6828, bytes: [0xFF],
               expect: "datatype message at byte 6816: enum values (2 of 255 bytes) of 510 bytes runs past the message (4 of 40 bytes left)"),
        Damage(file: "bool_weight.h5", at: 6816, bytes: [0x48], expect: "datatype message at byte 6816: datatype version 4, expected 1 to 3"),
        Damage(file: "bool_weight.h5", at: 6816, bytes: [0x1B], expect: "datatype message at byte 6816: datatype class 11, expected 0 to 10"),
        Damage(file: "bool_weight.h5", at: 6812, bytes: [0x03],
               expect: "datatype message stored as a shared message refused"),
        Damage(file: "compound_weight.h5", at: 6817, bytes: [16],
               expect: "datatype message at byte 6816: compound member 2 of 16: name is not NUL-terminated within the message (0 of 128 bytes left)"),
        Damage(file: "compound_weight.h5", at: 6817, bytes: [0], expect: "datatype message at byte 6816: compound of 0 members"),
        Damage(file: "compound_weight.h5", at: 6836, bytes: [5],
               expect: "datatype message at byte 6816: compound member 0 of 2: 5 array dimensions, at most 4 allowed"),
        Damage(file: "bool_weight.h5", at: 6769, bytes: [33], expect: "dataspace message at byte 6768: rank 33, at most 32 allowed"),
        Damage(file: "bool_weight.h5", at: 6769, bytes: [3],
               expect: "dataspace message at byte 6768: 3 maximum dimensions of 24 bytes runs past the message (8 of 40 bytes left)"),
        Damage(file: "bool_weight.h5", at: 6868, bytes: [5],
               expect: "fill value message at byte 6864: fill value of 5 bytes runs past the message (0 of 8 bytes left)"),
        Damage(file: "bool_weight.h5", at: 6864, bytes: [4], expect: "fill value message at byte 6864: version 4, expected 1 to 3"),
        Damage(file: "allowed_filters.h5", at: 6865, bytes: [33], expect: "filter pipeline message at byte 6864: 33 filters, at most 32 allowed"),
        Damage(file: "allowed_filters.h5", at: 6887, bytes: [0x21],
               expect: "filter pipeline message at byte 6864: filter 0 of 3: name of 8 bytes is not NUL-terminated"),
        Damage(file: "allowed_filters.h5", at: 6874, bytes: [12],
               expect: "filter pipeline message at byte 6864: filter 0 of 3: name length 12, expected a multiple of 8"),
        Damage(file: "allowed_filters.h5", at: 6874, bytes: [200],
               expect: "filter pipeline message at byte 6864: filter 0 of 3: name of 200 bytes runs past the message (64 of 80 bytes left)"),
        Damage(file: "allowed_filters.h5", at: 6926, bytes: [9],
               expect: "filter pipeline message at byte 6864: filter 2 of 3: 9 client data values of 40 bytes runs past the message (0 of 80 bytes left)"),
        Damage(file: "allowed_filters.h5", at: 6864, bytes: [3], expect: "filter pipeline message at byte 6864: version 3, expected 1 or 2"),
        Damage(file: "external_storage.h5", at: 6870, bytes: [2], expect: "external file list message at byte 6864: 2 slots used of 1 allocated"),
        Damage(file: "external_storage.h5", at: 6880, bytes: [0xF0],
               expect: "external file list message at byte 6864: slot 0: name at offset 240, beyond the 24-byte local heap"),
    ]

    /// The file with `damage` applied, in `directory`.
    static func damaged(_ damage: Damage, in directory: TemporaryDirectory) throws -> String {
        var bytes = [UInt8](try #require(FileManager.default.contents(atPath: HostileFile.directory + "/" + damage.file)))
        bytes.replaceSubrange(damage.at..<(damage.at + damage.bytes.count), with: damage.bytes)
        let path = directory.file("damaged.h5")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Runs the object header check on the dataset's header, as the profile walk does before
    /// `H5Dopen2`.
    static func checkHeader(_ path: String) throws {
        try HDF5RawFile.withFile(path: path) { try HDF5StructureCheck(raw: $0).checkObjectHeader(address: header, object: object) }
    }

    @Test("the undamaged files pass the header check", arguments: Set(damages.map(\.file)))
    func undamaged(_ file: String) throws {
        try Self.checkHeader(HostileFile.directory + "/" + file)
    }

    @Test("each damaged field gives its one-line error before libhdf5 opens the dataset", arguments: damages)
    func damaged(_ damage: Damage) throws {
        let directory = try TemporaryDirectory()
        let path = try Self.damaged(damage, in: directory)
        // Guard: never hand libhdf5 a message the check no longer refuses (it could crash).
        let passed = (try? Self.checkHeader(path)) != nil
        #expect(!passed, "the header check accepted the damaged message")
        guard !passed else { return }
        let error = HostileBounds.measure(path) { _ = try ModelFile.read(path: path) }
        HostileBounds.expectClear(error, path: path)
        let description = (error as? RNNFormatError)?.description ?? String(describing: error)
        #expect(description.contains("\(Self.object): \(damage.expect)"), "got \(description)")
    }

    @Test("a version 3 enum whose names fit is left to the profile, which refuses the class")
    func wellFormedEnum() throws {
        let directory = try TemporaryDirectory()
        // Version 3 stores names unpadded: "FALSE", "" and two 1-byte values fit the message.
        let path = try Self.damaged(Damage(file: "bool_weight.h5", at: 6816, bytes: [0x38], expect: ""), in: directory)
        try Self.checkHeader(path)
        let error = HostileBounds.measure(path) { _ = try ModelFile.read(path: path) }
        let description = (error as? RNNFormatError)?.description ?? String(describing: error)
        #expect(description.contains("\(Self.object): expected a float or int8 tensor, found a dataset of type class enum"), "got \(description)")
    }
}
