/// The filters the profile reads (deflate, shuffle, fletcher32), undone in reverse pipeline order.
enum HDF5Filters {
    static let deflate = 1
    static let shuffle = 2
    static let fletcher32 = 3
    static let allowed: Set<Int> = [deflate, shuffle, fletcher32]

    /// Libhdf5's names of filters, for refusals.
    static func name(_ id: Int, stored: String) -> String {
        if !stored.isEmpty { return stored }
        return [4: "szip", 5: "nbit", 6: "scaleoffset", 32000: "lzf", 32001: "blosc", 32004: "lz4", 32015: "zstd"][id] ?? "unnamed"
    }

    /// The bytes a chunk stored with `filters` decodes to, exactly `expected` bytes.
    ///
    /// - Parameters:
    ///   - mask: bit i set: filter i was skipped for this chunk.
    ///   - elementSize: the dataset's element size (shuffle's default).
    ///   - failure: makes the error for damaged data (the detail is passed).
    static func decode(_ stored: [UInt8], filters: [HDF5FilterPipeline.Filter], mask: UInt32, expected: Int, elementSize: Int,
                       failure: (String) -> RNNFormatError) throws -> [UInt8] {
        var bytes = stored
        let active = filters.indices.filter { $0 >= 32 || mask & (1 << UInt32($0)) == 0 }
        for position in active.reversed() {
            let filter = filters[position]
            switch filter.id {
            case deflate:
                // What the stage before deflate produced: the chunk plus 4 bytes per earlier fletcher32.
                let earlier = active.filter { $0 < position && filters[$0].id == fletcher32 }.count
                let limit = expected + 4 * earlier
                var given = false
                do {
                    bytes = try BoundedInflater.inflate(windowBits: 15, limit: limit) {
                        defer { given = true }
                        return given ? [] : bytes
                    }
                } catch BoundedInflater.Failure.beyondLimit {
                    throw failure("a deflated chunk expands beyond its \(limit) bytes (compression bomb)")
                } catch BoundedInflater.Failure.corrupt(let reason) {
                    throw failure("corrupt deflate stream: \(reason)")
                } catch BoundedInflater.Failure.unterminated(let produced) {
                    throw failure("deflate stream ends after \(produced) bytes without its end marker")
                }
            case shuffle:
                let size = filter.values.first.map(Int.init) ?? elementSize
                if size > 1 { bytes = unshuffle(bytes, elementSize: size) }
            case fletcher32:
                guard bytes.count >= 4 else { throw failure("a chunk of \(bytes.count) bytes cannot carry its fletcher32 checksum") }
                let body = bytes.count - 4
                let stored = UInt32(bytes.littleEndian(at: body, width: 4))
                let computed = checksum(bytes[0..<body])
                // Before libhdf5 1.6.3 the two halves were stored swapped on little-endian hosts;
                // libhdf5 accepts both, and so do we.
                let swapped = ((computed & 0x00FF_00FF) << 8) | ((computed & 0xFF00_FF00) >> 8)
                guard stored == computed || stored == swapped else {
                    throw failure("fletcher32 checksum \(hex(stored)) stored, the chunk gives \(hex(computed))")
                }
                bytes.removeLast(4)
            default:
                throw failure("filter \(filter.id) cannot be decoded")
            }
        }
        guard bytes.count == expected else {
            throw failure("a chunk decodes to \(bytes.count) bytes, its shape holds \(expected)")
        }
        return bytes
    }

    /// Undoes the shuffle filter: byte j of element i was stored at j * count + i; a tail of
    /// fewer bytes than an element stays in place.
    static func unshuffle(_ bytes: [UInt8], elementSize: Int) -> [UInt8] {
        let count = bytes.count / elementSize
        guard count > 1 else { return bytes }
        var out = bytes
        bytes.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for j in 0..<elementSize {
                    let plane = j * count
                    for i in 0..<count { target[i * elementSize + j] = source[plane + i] }
                }
            }
        }
        return out
    }

    /// HDF5's Fletcher-32 (`H5_checksum_fletcher32`): sums of big-endian 16-bit words, the last
    /// odd byte as a word's high byte.
    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var sum1: UInt32 = 0, sum2: UInt32 = 0
        var i = bytes.startIndex
        var words = bytes.count / 2
        while words > 0 {
            var run = min(words, 360)  // the most sums before a 32-bit overflow
            words -= run
            while run > 0 {
                sum1 &+= UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
                sum2 &+= sum1
                i += 2
                run -= 1
            }
            sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
            sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
        }
        if bytes.count % 2 == 1 {
            sum1 &+= UInt32(bytes[i]) << 8
            sum2 &+= sum1
            sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
            sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
        }
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
        return sum2 << 16 | sum1
    }
}
