/// Bounds applied to zip archives before anything is allocated from their declared sizes.
public struct ZipLimits: Sendable, Hashable {
    /// Most members an archive may list.
    public var maxEntries: Int
    /// Largest allowed ratio of a member's uncompressed size to the whole archive's size.
    /// Deflate cannot exceed about 1032:1, so an honest member always fits.
    public var maxExpansionRatio: Int

    public init(maxEntries: Int = 1 << 20, maxExpansionRatio: Int = 1032) {
        self.maxEntries = maxEntries
        self.maxExpansionRatio = maxExpansionRatio
    }
}

/// A read-only zip archive: the central directory parsed with checked arithmetic, members read
/// on demand (stored or deflated), each read bounded by its declared size and CRC-32 checked.
///
/// Only what PyTorch's `torch.save` writes is needed, but any single-disk, unencrypted archive
/// (zip64 included) whose members are stored or deflated is read. Member data ranges must lie
/// before the central directory and must not overlap, which rules out overlapping-member bombs.
struct ZipArchive {
    /// One member as the central directory and its local header describe it.
    struct Entry {
        let name: String
        let method: UInt16
        let flags: UInt16
        let crc32: UInt32
        let compressedSize: Int
        let uncompressedSize: Int
        let localHeaderOffset: Int
        /// First byte of the member's data, after the local header.
        var dataOffset: Int
    }

    let file: ByteSource
    /// Members in central-directory order.
    let entries: [Entry]
    private let indexByName: [String: Int]
    let limits: ZipLimits

    /// True when `prefix` starts like a zip archive (local header or empty-archive signature).
    static func hasSignature(_ prefix: [UInt8]) -> Bool {
        prefix.count >= 4 && prefix[0] == 0x50 && prefix[1] == 0x4B
            && ((prefix[2] == 3 && prefix[3] == 4) || (prefix[2] == 5 && prefix[3] == 6))
    }

    /// Parses the central directory of `file`.
    /// - Throws: `RNNFormatError` `.notRecognized` (no end-of-central-directory record),
    ///   `.malformed` (inconsistent or out-of-range directory), `.unsupported` (multi-disk, encrypted).
    init(file: ByteSource, limits: ZipLimits = ZipLimits()) throws {
        self.file = file
        self.limits = limits
        let path = file.name
        func malformed(_ message: String, _ object: String? = nil) -> RNNFormatError {
            RNNFormatError(.malformed, file: path, object: object, "zip: " + message)
        }

        // End of central directory: 22 bytes plus a comment of up to 65535 bytes at the end.
        let tailStart = max(0, file.size - (22 + 65535))
        let tail = try file.read(at: tailStart, count: file.size - tailStart)
        var eocd: Int?
        if tail.count >= 22 {
            for i in stride(from: tail.count - 22, through: 0, by: -1)
            where tail[i] == 0x50 && tail[i + 1] == 0x4B && tail[i + 2] == 5 && tail[i + 3] == 6 {
                // The comment must end exactly at the end of the file.
                if i + 22 + Int(tail.littleEndianUInt16(at: i + 20)) == tail.count {
                    eocd = i
                    break
                }
            }
        }
        guard let e = eocd else {
            if Self.hasSignature(try file.readPrefix(at: 0, maxCount: 4)) {
                throw RNNFormatError(.truncated, file: path, "zip archive without its central directory end record: truncated or damaged")
            }
            throw RNNFormatError(.notRecognized, file: path, "not a zip archive: no end-of-central-directory record")
        }
        let eocdOffset = tailStart + e
        guard tail.littleEndianUInt16(at: e + 4) == 0, tail.littleEndianUInt16(at: e + 6) == 0 else {
            throw RNNFormatError(.unsupported, file: path, "zip: multi-disk archives are not supported")
        }
        var entryCount = Int(tail.littleEndianUInt16(at: e + 10))
        var directorySize = Int(tail.littleEndianUInt32(at: e + 12))
        var directoryOffset = Int(tail.littleEndianUInt32(at: e + 16))
        var directoryEndLimit = eocdOffset
        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // Zip64: a locator right before the EOCD points at the zip64 EOCD record.
            guard eocdOffset >= 20 else { throw malformed("zip64 fields without a zip64 locator") }
            let locator = try file.read(at: eocdOffset - 20, count: 20)
            guard locator.littleEndianUInt32(at: 0) == 0x0706_4B50 else {
                throw malformed("zip64 fields without a zip64 locator")
            }
            guard let recordOffset = Int(exactly: locator.littleEndianUInt64(at: 8)),
                  recordOffset <= eocdOffset - 20 - 56
            else { throw malformed("zip64 end-of-central-directory offset out of range") }
            let record = try file.read(at: recordOffset, count: 56)
            guard record.littleEndianUInt32(at: 0) == 0x0606_4B50 else {
                throw malformed("bad zip64 end-of-central-directory signature at offset \(recordOffset)")
            }
            guard record.littleEndianUInt32(at: 16) == 0, record.littleEndianUInt32(at: 20) == 0 else {
                throw RNNFormatError(.unsupported, file: path, "zip: multi-disk archives are not supported")
            }
            guard let count = Int(exactly: record.littleEndianUInt64(at: 32)),
                  let size = Int(exactly: record.littleEndianUInt64(at: 40)),
                  let offset = Int(exactly: record.littleEndianUInt64(at: 48))
            else { throw malformed("zip64 directory fields out of range") }
            entryCount = count
            directorySize = size
            directoryOffset = offset
            directoryEndLimit = recordOffset
        }
        guard entryCount <= limits.maxEntries else {
            throw RNNFormatError(.refused, file: path, "zip: \(entryCount) members exceed the limit of \(limits.maxEntries)")
        }
        guard let directoryEnd = Checked.add(directoryOffset, directorySize), directoryEnd <= directoryEndLimit,
              directorySize >= Checked.multiply(entryCount, 46) ?? Int.max
        else {
            throw malformed("central directory (offset \(directoryOffset), \(directorySize) bytes, \(entryCount) members) does not fit before its end record at \(directoryEndLimit)")
        }

        let directory = try file.read(at: directoryOffset, count: directorySize)
        var entries: [Entry] = []
        entries.reserveCapacity(entryCount)
        var index: [String: Int] = [:]
        var p = 0
        for n in 0..<entryCount {
            guard p + 46 <= directory.count, directory.littleEndianUInt32(at: p) == 0x0201_4B50 else {
                throw malformed("central directory entry \(n) at offset \(directoryOffset + p) is missing or has a bad signature")
            }
            let flags = directory.littleEndianUInt16(at: p + 8)
            let method = directory.littleEndianUInt16(at: p + 10)
            let crc = directory.littleEndianUInt32(at: p + 16)
            var compressed = Int(directory.littleEndianUInt32(at: p + 20))
            var uncompressed = Int(directory.littleEndianUInt32(at: p + 24))
            let nameLength = Int(directory.littleEndianUInt16(at: p + 28))
            let extraLength = Int(directory.littleEndianUInt16(at: p + 30))
            let commentLength = Int(directory.littleEndianUInt16(at: p + 32))
            let diskStart = Int(directory.littleEndianUInt16(at: p + 34))
            var localOffset = Int(directory.littleEndianUInt32(at: p + 42))
            let nameStart = p + 46
            let extraStart = nameStart + nameLength
            let next = extraStart + extraLength + commentLength
            guard next <= directory.count else {
                throw malformed("central directory entry \(n) runs past the directory")
            }
            guard let name = String(validatingUTF8Bytes: directory[nameStart..<extraStart]) else {
                throw malformed("member name of entry \(n) is not valid UTF-8")
            }
            // Zip64 extended information: 64-bit values for the fields saturated at 0xFFFFFFFF.
            if compressed == 0xFFFF_FFFF || uncompressed == 0xFFFF_FFFF || localOffset == 0xFFFF_FFFF || diskStart == 0xFFFF {
                var q = extraStart
                var found = false
                while q + 4 <= extraStart + extraLength {
                    let id = directory.littleEndianUInt16(at: q)
                    let size = Int(directory.littleEndianUInt16(at: q + 2))
                    guard q + 4 + size <= extraStart + extraLength else { break }
                    if id == 0x0001 {
                        var r = q + 4
                        func take() throws -> Int {
                            guard r + 8 <= q + 4 + size, let v = Int(exactly: directory.littleEndianUInt64(at: r)) else {
                                throw malformed("zip64 extra field too short or out of range", name)
                            }
                            r += 8
                            return v
                        }
                        if uncompressed == 0xFFFF_FFFF { uncompressed = try take() }
                        if compressed == 0xFFFF_FFFF { compressed = try take() }
                        if localOffset == 0xFFFF_FFFF { localOffset = try take() }
                        found = true
                        break
                    }
                    q += 4 + size
                }
                guard found else { throw malformed("sizes saturated at 0xFFFFFFFF without a zip64 extra field", name) }
            }
            guard flags & 1 == 0 else {
                throw RNNFormatError(.unsupported, file: path, object: name, "zip: encrypted members are not supported")
            }
            guard index[name] == nil else { throw malformed("duplicate member name", name) }
            index[name] = entries.count
            entries.append(Entry(name: name, method: method, flags: flags, crc32: crc, compressedSize: compressed,
                                 uncompressedSize: uncompressed, localHeaderOffset: localOffset, dataOffset: 0))
            p = next
        }

        // Resolve data offsets from the local headers; member ranges must precede the central
        // directory and must not overlap.
        for i in entries.indices {
            let entry = entries[i]
            let header = try file.read(at: entry.localHeaderOffset, count: 30)
            guard header.littleEndianUInt32(at: 0) == 0x0403_4B50 else {
                throw malformed("bad local header signature at offset \(entry.localHeaderOffset)", entry.name)
            }
            let nameLength = Int(header.littleEndianUInt16(at: 26))
            let extraLength = Int(header.littleEndianUInt16(at: 28))
            guard let dataOffset = Checked.add(entry.localHeaderOffset, 30 + nameLength + extraLength),
                  let dataEnd = Checked.add(dataOffset, entry.compressedSize), dataEnd <= directoryOffset
            else {
                throw malformed("member data (\(entry.compressedSize) bytes after the header at \(entry.localHeaderOffset)) runs past the central directory at \(directoryOffset)", entry.name)
            }
            let localName = try file.read(at: entry.localHeaderOffset + 30, count: nameLength)
            guard localName.elementsEqual(entry.name.utf8) else {
                throw malformed("local header names a different member", entry.name)
            }
            entries[i].dataOffset = dataOffset
        }
        let byOffset = entries.sorted { $0.localHeaderOffset < $1.localHeaderOffset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.dataOffset + a.compressedSize > b.localHeaderOffset {
            throw malformed("member data overlaps member '\(b.name)'", a.name)
        }
        self.entries = entries
        self.indexByName = index
    }

    func entry(named name: String) -> Entry? {
        indexByName[name].map { entries[$0] }
    }

    /// Reads and checks a member: at most `maxBytes` and at most the archive-relative cap,
    /// inflating in chunks so memory never exceeds the declared size, then verifies CRC-32.
    /// - Throws: `.refused` when the declared size is over a cap or the data inflates beyond it,
    ///   `.malformed` for a bad deflate stream or size mismatch, `.checksumMismatch` for a CRC error.
    func read(_ entry: Entry, maxBytes: Int) throws -> [UInt8] {
        let path = file.name
        let archiveCap = Checked.multiply(max(file.size, 1), limits.maxExpansionRatio) ?? Int.max
        guard entry.method != 0 || entry.compressedSize == entry.uncompressedSize else {
            throw RNNFormatError(.malformed, file: path, object: entry.name,
                                 "zip: stored member has compressed size \(entry.compressedSize) but uncompressed size \(entry.uncompressedSize)")
        }
        guard entry.uncompressedSize <= maxBytes else {
            throw RNNFormatError(.refused, file: path, object: entry.name,
                                 "zip member declares \(entry.uncompressedSize) bytes, more than the \(maxBytes) allowed for it")
        }
        guard entry.uncompressedSize <= archiveCap else {
            throw RNNFormatError(.refused, file: path, object: entry.name,
                                 "zip member declares \(entry.uncompressedSize) bytes, more than \(limits.maxExpansionRatio) times the archive size (\(file.size) bytes)")
        }
        let bytes: [UInt8]
        switch entry.method {
        case 0:
            bytes = try file.read(at: entry.dataOffset, count: entry.compressedSize)
        case 8:
            bytes = try inflate(entry)
        default:
            throw RNNFormatError(.unsupported, file: path, object: entry.name,
                                 "zip: compression method \(entry.method) is not supported (expected 0 stored or 8 deflate)")
        }
        let crc = CRC32.checksum(bytes)
        guard crc == entry.crc32 else {
            throw RNNFormatError(.checksumMismatch, file: path, object: entry.name,
                                 "zip: CRC-32 is \(hex(crc)), the directory records \(hex(entry.crc32))")
        }
        return bytes
    }

    /// Inflates a deflated member, read from the file a megabyte at a time, expecting exactly
    /// its declared size.
    private func inflate(_ entry: Entry) throws -> [UInt8] {
        func failure(_ code: RNNFormatError.Code, _ message: String) -> RNNFormatError {
            RNNFormatError(code, file: file.name, object: entry.name, message)
        }
        var consumed = 0
        let out: [UInt8]
        do {
            out = try BoundedInflater.inflate(windowBits: -15, limit: entry.uncompressedSize) {
                let piece = try file.read(at: entry.dataOffset + consumed, count: min(1 << 20, entry.compressedSize - consumed))
                consumed += piece.count
                return piece
            }
        } catch BoundedInflater.Failure.beyondLimit {
            throw failure(.refused, "zip member inflates beyond its declared size of \(entry.uncompressedSize) bytes; refusing (possible zip bomb)")
        } catch BoundedInflater.Failure.corrupt(let reason) {
            throw failure(.malformed, "corrupt deflate stream: \(reason)")
        } catch BoundedInflater.Failure.unterminated(let produced) {
            throw failure(.truncated, "deflate stream ends after \(produced) of \(entry.uncompressedSize) bytes without its end marker")
        }
        guard out.count == entry.uncompressedSize else {
            throw failure(.malformed, "inflated to \(out.count) bytes, the archive declares \(entry.uncompressedSize)")
        }
        return out
    }
}


