/// Header message types this reader acts on (HDF5 spec IV.A.2).
enum HDF5MessageType: UInt16 {
    case null = 0x00
    case dataspace = 0x01
    case linkInfo = 0x02
    case datatype = 0x03
    case fillValueOld = 0x04
    case fillValue = 0x05
    case link = 0x06
    case externalFiles = 0x07
    case layout = 0x08
    case bogus = 0x09
    case groupInfo = 0x0A
    case filterPipeline = 0x0B
    case attribute = 0x0C
    case comment = 0x0D
    case modificationTimeOld = 0x0E
    case sharedMessageTable = 0x0F
    case continuation = 0x10
    case symbolTable = 0x11
    case modificationTime = 0x12
    case btreeK = 0x13
    case driverInfo = 0x14
    case attributeInfo = 0x15
    case referenceCount = 0x16
    case fileSpaceInfo = 0x17
}

/// One message of an object header: its type, flags and bytes.
struct HDF5Message {
    var type: UInt16
    var flags: UInt8
    var data: [UInt8]
    /// File address of the message's data, for messages about it.
    var address: UInt64

    var kind: HDF5MessageType? { HDF5MessageType(rawValue: type) }
    /// Bit 1: the message is stored elsewhere and shared (committed datatypes, shared messages).
    var isShared: Bool { flags & 0x02 != 0 }
    /// Bit 7: a reader that does not know this message type must fail.
    var failIfUnknown: Bool { flags & 0x80 != 0 }
}

/// An object header (version 1 or 2) read with all its continuation chunks.
struct HDF5ObjectHeader {
    let address: UInt64
    let version: Int
    private(set) var messages: [HDF5Message] = []

    /// Reads the header at `address`, following continuation messages.
    ///
    /// - Throws: `.malformed` for a damaged header (signature, version, checksum, a message that
    ///   runs past its chunk, a continuation that leaves the file or loops), `.refused` beyond
    ///   `HDF5ProfileLimits.maxHeaderChunks` chunks or `maxHeaderMessages` messages.
    init(reader: HDF5Reader, address: UInt64, object: String) throws {
        self.address = address
        let what = "object header"
        let first = try reader.metadataPrefix(at: address, count: 512, what, object: object)
        var chunks: [(address: UInt64, length: Int)] = []
        var seen: Set<UInt64> = [address]
        if first.count >= 4, first[0..<4].elementsEqual("OHDR".utf8) {
            version = 2
            var cursor = reader.cursor(first, what, at: address, object: object, from: 4)
            let headerVersion = try cursor.u8("version")
            guard headerVersion == 2 else { throw reader.damaged(what, at: address, object: object, "version \(headerVersion) after the OHDR signature (expected 2)") }
            let flags = try cursor.u8("flags")
            guard flags & 0xC0 == 0 else { throw reader.damaged(what, at: address, object: object, "unknown flags \(hex(flags))") }
            if flags & 0x20 != 0 { try cursor.skip(16, "times") }
            if flags & 0x10 != 0 { try cursor.skip(4, "attribute phase change values") }
            let chunkSize = try cursor.int(1 << Int(flags & 0x03), "size of chunk 0")
            let prefix = cursor.position
            let total = prefix.addingReportingOverflow(chunkSize)
            guard !total.overflow, total.partialValue <= Int.max - 4 else {
                throw reader.damaged(what, at: address, object: object, "chunk 0 of \(chunkSize) bytes")
            }
            let bytes = try reader.metadata(at: address, count: total.partialValue + 4, what, object: object)
            try reader.verifyChecksum(bytes, end: bytes.count, what, at: address, object: object)
            try parseV2Messages(bytes, from: prefix, to: bytes.count - 4, creationOrder: flags & 0x04 != 0,
                                chunkAddress: address, reader: reader, object: object, continuations: &chunks)
            var next = 0
            while next < chunks.count {
                let chunk = chunks[next]
                next += 1
                try Self.checkChunk(chunk, seen: &seen, count: next, reader: reader, object: object)
                let bytes = try reader.metadata(at: chunk.address, count: chunk.length, "object header continuation", object: object)
                guard bytes.count >= 8, bytes[0..<4].elementsEqual("OCHK".utf8) else {
                    throw reader.damaged("object header continuation", at: chunk.address, object: object, "no OCHK signature")
                }
                try reader.verifyChecksum(bytes, end: bytes.count, "object header continuation", at: chunk.address, object: object)
                try parseV2Messages(bytes, from: 4, to: bytes.count - 4, creationOrder: flags & 0x04 != 0,
                                    chunkAddress: chunk.address, reader: reader, object: object, continuations: &chunks)
            }
        } else {
            version = 1
            var cursor = reader.cursor(first, what, at: address, object: object)
            let headerVersion = try cursor.u8("version")
            guard headerVersion == 1 else {
                throw reader.damaged(what, at: address, object: object, "version \(headerVersion) (expected 1, or the OHDR signature of version 2)")
            }
            try cursor.skip(1, "reserved byte")
            _ = try cursor.u16("number of messages")
            try cursor.skip(4, "reference count")
            let size = try cursor.int(4, "header size")
            // Messages start after the 12-byte prefix, aligned to 8 bytes.
            chunks.append((address + 16, size))
            var next = 0
            while next < chunks.count {
                let chunk = chunks[next]
                next += 1
                if next > 1 { try Self.checkChunk(chunk, seen: &seen, count: next, reader: reader, object: object) }
                let bytes = try reader.metadata(at: chunk.address, count: chunk.length, what, object: object)
                try parseV1Messages(bytes, chunkAddress: chunk.address, reader: reader, object: object, continuations: &chunks)
            }
        }
    }

    private static func checkChunk(_ chunk: (address: UInt64, length: Int), seen: inout Set<UInt64>, count: Int,
                                   reader: HDF5Reader, object: String) throws {
        guard seen.insert(chunk.address).inserted else {
            throw reader.damaged("object header", at: chunk.address, object: object, "a continuation points back into the header (a loop)")
        }
        guard count <= HDF5ProfileLimits.maxHeaderChunks else {
            throw reader.refused(object, "object header of more than \(HDF5ProfileLimits.maxHeaderChunks) chunks")
        }
    }

    private mutating func append(_ message: HDF5Message, reader: HDF5Reader, object: String,
                                 continuations: inout [(address: UInt64, length: Int)]) throws {
        guard messages.count < HDF5ProfileLimits.maxHeaderMessages else {
            throw reader.refused(object, "object header of more than \(HDF5ProfileLimits.maxHeaderMessages) messages")
        }
        if message.kind == .continuation {
            var cursor = reader.cursor(message.data, "continuation message", at: message.address, object: object)
            guard let target = try cursor.address("address") else {
                throw reader.damaged("continuation message", at: message.address, object: object, "undefined address")
            }
            continuations.append((target, try cursor.length("length")))
            return
        }
        messages.append(message)
    }

    private mutating func parseV1Messages(_ bytes: [UInt8], chunkAddress: UInt64, reader: HDF5Reader, object: String,
                                          continuations: inout [(address: UInt64, length: Int)]) throws {
        var cursor = reader.cursor(bytes, "object header", at: chunkAddress, object: object)
        while cursor.remaining >= 8 {
            let type = try cursor.u16("message type")
            let size = Int(try cursor.u16("message size"))
            let flags = try cursor.u8("message flags")
            try cursor.skip(3, "reserved bytes")
            let at = chunkAddress + UInt64(cursor.position)
            guard size <= cursor.remaining else {
                throw reader.damaged("object header", at: chunkAddress, object: object, "message of type \(hex(type)) declares \(size) bytes, its chunk has \(cursor.remaining) left")
            }
            let data = Array(try cursor.take(size, "message data"))
            try append(HDF5Message(type: type, flags: flags, data: data, address: at), reader: reader, object: object, continuations: &continuations)
        }
    }

    private mutating func parseV2Messages(_ bytes: [UInt8], from start: Int, to end: Int, creationOrder: Bool, chunkAddress: UInt64,
                                          reader: HDF5Reader, object: String, continuations: inout [(address: UInt64, length: Int)]) throws {
        var cursor = reader.cursor(bytes, "object header", at: chunkAddress, object: object, from: start, to: end)
        let headerSize = creationOrder ? 6 : 4
        // Fewer bytes than a message header at the end of a chunk are a gap.
        while cursor.remaining >= headerSize {
            let type = UInt16(try cursor.u8("message type"))
            let size = Int(try cursor.u16("message size"))
            let flags = try cursor.u8("message flags")
            if creationOrder { try cursor.skip(2, "message creation order") }
            let at = chunkAddress + UInt64(cursor.position)
            guard size <= cursor.remaining else {
                throw reader.damaged("object header", at: chunkAddress, object: object, "message of type \(hex(type)) declares \(size) bytes, its chunk has \(cursor.remaining) left")
            }
            let data = Array(try cursor.take(size, "message data"))
            try append(HDF5Message(type: type, flags: flags, data: data, address: at), reader: reader, object: object, continuations: &continuations)
        }
    }

    /// The messages of `type`.
    func messages(_ type: HDF5MessageType) -> [HDF5Message] {
        messages.filter { $0.type == type.rawValue }
    }

    /// The one message of `type`, nil when absent.
    ///
    /// - Throws: `.malformed` when the header holds it more than once.
    func single(_ type: HDF5MessageType, reader: HDF5Reader, object: String) throws -> HDF5Message? {
        let found = messages(type)
        guard found.count <= 1 else {
            throw reader.damaged("object header", at: address, object: object, "\(found.count) \(type) messages (expected at most one)")
        }
        return found.first
    }
}
