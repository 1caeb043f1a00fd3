import FuzzSupport
#if canImport(Glibc)
import Glibc
#endif
@testable import RNNFormat

/// Unpickles each input in memory; when that succeeds, puts it as `data.pkl` into a copy of a
/// real checkpoint (the template's storages, fresh CRCs) and imports that, so mutated pickles
/// reach the tensor, state_dict and module code behind the zip layer's checksums.
///
/// The template is `RNNKIT_FUZZ_TEMPLATE` or fixtures/float/gru_bi_2l/model.pt (run from the
/// repository root, as tools/fuzz.sh does).
@main
enum FuzzPickle {
    static let input = FuzzInput.scratchPath("in.pt")
    static let output = FuzzInput.scratchPath("out.h5")
    // Set once before fuzzing starts; libFuzzer runs inputs on one thread.
    nonisolated(unsafe) static var template: [(name: String, bytes: [UInt8])] = []

    static func main() {
        let path = getenv("RNNKIT_FUZZ_TEMPLATE").map { String(cString: $0) } ?? "fixtures/float/gru_bi_2l/model.pt"
        do {
            let zip = try ZipArchive(file: try ByteSource(path: path))
            template = try zip.entries.map { ($0.name, try zip.read($0, maxBytes: 1 << 26)) }
        } catch {
            fatalError("cannot read the template checkpoint \(path): \(error)")
        }
        guard template.contains(where: { $0.name.hasSuffix("/data.pkl") }) else { fatalError("\(path) has no data.pkl") }
        runFuzzer { data, size in
            FuzzPickle.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
            return 0
        }
    }

    static func run(_ pickle: [UInt8]) {
        do {
            _ = try Unpickler.load(pickle, file: "fuzz.pkl", member: "data.pkl")
        } catch {
            FuzzInput.check(error, file: "fuzz.pkl")
            return
        }
        let members = template.map { $0.name.hasSuffix("/data.pkl") ? ($0.name, pickle) : $0 }
        let archive = StoredZip.archive(members)
        archive.withUnsafeBufferPointer { FuzzInput.write($0.baseAddress, $0.count, to: input) }
        FuzzInput.readAndRoundTrip(input, output: output) { try TorchCheckpoint.read(path: $0) }
    }
}

/// A zip archive of stored (uncompressed) members, as torch.save writes them, minus alignment.
enum StoredZip {
    static func archive(_ members: [(name: String, bytes: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        var directory: [UInt8] = []
        func u16(_ v: Int, _ a: inout [UInt8]) { a += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: UInt32, _ a: inout [UInt8]) { a += (0..<4).map { UInt8(v >> (8 * $0) & 0xFF) } }
        for (name, bytes) in members {
            let offset = UInt32(out.count)
            let crc = crc32(bytes)
            let nameBytes = Array(name.utf8)
            u32(0x0403_4B50, &out); u16(20, &out); u16(0, &out); u16(0, &out); u16(0, &out); u16(0, &out)
            u32(crc, &out); u32(UInt32(bytes.count), &out); u32(UInt32(bytes.count), &out)
            u16(nameBytes.count, &out); u16(0, &out); out += nameBytes; out += bytes
            u32(0x0201_4B50, &directory); u16(20, &directory); u16(20, &directory); u16(0, &directory); u16(0, &directory)
            u16(0, &directory); u16(0, &directory); u32(crc, &directory); u32(UInt32(bytes.count), &directory)
            u32(UInt32(bytes.count), &directory); u16(nameBytes.count, &directory); u16(0, &directory); u16(0, &directory)
            u16(0, &directory); u16(0, &directory); u32(0, &directory); u32(offset, &directory); directory += nameBytes
        }
        let directoryOffset = UInt32(out.count)
        out += directory
        u32(0x0605_4B50, &out); u16(0, &out); u16(0, &out); u16(members.count, &out); u16(members.count, &out)
        u32(UInt32(directory.count), &out); u32(directoryOffset, &out); u16(0, &out)
        return out
    }

    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        ~bytes.reduce(~UInt32(0)) { table[Int(($0 ^ UInt32($1)) & 0xFF)] ^ ($0 >> 8) }
    }
}
