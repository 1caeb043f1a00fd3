import Foundation
import Testing
@testable import RNNFormat
import _RNNKitTestSupport
import RNNFormatWriter

/// The messages that describe a dataset, damaged field by field: every field is checked against
/// its message before use, and every damage gives one clear line (or, where the field does not
/// matter, the file still loads).
@Suite("HDF5 dataset message checks")
struct HostileDatasetMessageTests {
    struct Damage: Sendable, CustomTestStringConvertible {
        /// A file of fixtures/hostile/hdf5 whose /rnn/weight_ih_l0 has its (version 1) object
        /// header at address `HostileDatasetMessageTests.header`.
        var file: String
        /// Absolute file offset, and the bytes written there.
        var at: Int
        var bytes: [UInt8]
        /// Substring of the error after the dataset's path; nil when the file must load.
        var expect: String?
        var testDescription: String { "\(file) byte \(at) = \(bytes.prefix(4))" }
    }

    static let object = "/rnn/weight_ih_l0"

    // Message data offsets in these files: dataspace at 6768 (version 1, rank 2, maximum
    // dimensions); bool_weight.h5: enum datatype at 6816 (version 1, 2 members over a 1-byte
    // integer), fill value at 6864 (version 2, defined, size 0); compound_weight.h5: compound
    // datatype at 6816 (version 1, members "re" and "im"); allowed_filters.h5: filter pipeline
    // at 6864 (version 1: shuffle, deflate, fletcher32); external_storage.h5: external file
    // list at 6864 (one slot, name at heap offset 8). The reader decodes the dataspace, then the
    // datatype (refusing classes other than integer and float by name, without decoding their
    // members), then the filter pipeline and the fill value; an external file list is refused
    // by its presence.
    static let damages: [Damage] = [
        Damage(file: "bool_weight.h5", at: 6818, bytes: [0x80], expect: "enum of 32770 members (at most 1024 allowed)"),
        Damage(file: "bool_weight.h5", at: 6836, bytes: Array(repeating: 1, count: 20),
               expect: "damaged datatype message at byte 6816: it ends inside its enum member name"),
        Damage(file: "bool_weight.h5", at: 6828, bytes: [0xFF],
               expect: "expected a float or int8 tensor, found a dataset of type enum of integer of 255 bytes with 8-bit precision at bit 0"),
        Damage(file: "bool_weight.h5", at: 6816, bytes: [0x48], expect: "expected a float or int8 tensor, found a dataset of type enum of 2 members"),
        Damage(file: "bool_weight.h5", at: 6816, bytes: [0x1B], expect: "expected a float or int8 tensor, found a dataset of type complex"),
        Damage(file: "bool_weight.h5", at: 6812, bytes: [0x03], expect: "shared (committed) datatype message refused"),
        Damage(file: "compound_weight.h5", at: 6817, bytes: [16], expect: "expected a float or int8 tensor, found a dataset of type compound"),
        Damage(file: "compound_weight.h5", at: 6817, bytes: [0], expect: "expected a float or int8 tensor, found a dataset of type compound"),
        Damage(file: "compound_weight.h5", at: 6836, bytes: [5], expect: "expected a float or int8 tensor, found a dataset of type compound"),
        Damage(file: "bool_weight.h5", at: 6769, bytes: [33], expect: "damaged dataspace message at byte 6768: rank 33 (HDF5 allows at most 32)"),
        Damage(file: "bool_weight.h5", at: 6769, bytes: [3], expect: "damaged dataspace message at byte 6768: it ends inside its maximum dimension size"),
        Damage(file: "bool_weight.h5", at: 6868, bytes: [5], expect: "expected a float or int8 tensor, found a dataset of type enum of 2 members"),
        Damage(file: "bool_weight.h5", at: 6864, bytes: [4], expect: "expected a float or int8 tensor, found a dataset of type enum of 2 members"),
        Damage(file: "allowed_filters.h5", at: 6865, bytes: [33], expect: "damaged filter pipeline message at byte 6864: 33 filters (HDF5 allows at most 32)"),
        // The name of a known filter is not needed: an unterminated one is read as far as it goes.
        Damage(file: "allowed_filters.h5", at: 6887, bytes: [0x21], expect: nil),
        Damage(file: "allowed_filters.h5", at: 6874, bytes: [12], expect: "damaged filter pipeline message at byte 6864: it ends inside its client data"),
        Damage(file: "allowed_filters.h5", at: 6874, bytes: [200], expect: "damaged filter pipeline message at byte 6864: it ends inside its filter name"),
        Damage(file: "allowed_filters.h5", at: 6926, bytes: [9], expect: "damaged filter pipeline message at byte 6864: it ends inside its client data"),
        Damage(file: "allowed_filters.h5", at: 6864, bytes: [3], expect: "damaged filter pipeline message at byte 6864: version 3 (expected 1 or 2)"),
        Damage(file: "external_storage.h5", at: 6870, bytes: [2], expect: "external storage refused (data kept in other files)"),
        Damage(file: "external_storage.h5", at: 6880, bytes: [0xF0], expect: "external storage refused (data kept in other files)"),
    ]

    /// The file with `damage` applied, in `directory`.
    static func damaged(_ damage: Damage, in directory: TemporaryDirectory) throws -> String {
        var bytes = [UInt8](try #require(FileManager.default.contents(atPath: HostileFile.directory + "/" + damage.file)))
        bytes.replaceSubrange(damage.at..<(damage.at + damage.bytes.count), with: damage.bytes)
        let path = directory.file("damaged.h5")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("each damaged field gives its one-line error", arguments: damages)
    func damaged(_ damage: Damage) throws {
        let directory = try TemporaryDirectory()
        let path = try Self.damaged(damage, in: directory)
        let error = HostileBounds.measure(path) { _ = try ModelFile.read(path: path) }
        guard let expect = damage.expect else {
            #expect(error == nil, "\(String(describing: error))")
            return
        }
        HostileBounds.expectClear(error, path: path)
        let description = (error as? RNNFormatError)?.description ?? String(describing: error)
        #expect(description.contains("\(Self.object): \(expect)"), "got \(description)")
    }

    @Test("a version 3 enum whose names fit decodes, and the profile refuses the class by name")
    func wellFormedEnum() throws {
        let directory = try TemporaryDirectory()
        // Version 3 stores names unpadded: "FALSE", "" and two 1-byte values fit the message.
        let path = try Self.damaged(Damage(file: "bool_weight.h5", at: 6816, bytes: [0x38], expect: ""), in: directory)
        let error = HostileBounds.measure(path) { _ = try ModelFile.read(path: path) }
        let description = (error as? RNNFormatError)?.description ?? String(describing: error)
        #expect(description.contains("\(Self.object): expected a float or int8 tensor, found a dataset of type enum of 2 members"), "got \(description)")
    }
}
