import CZlib

/// Deflate decompression that never produces more than a limit, for zip members and HDF5 chunks.
///
/// Input is taken piece by piece and output grows piece by piece, so a stream that expands past
/// what its container declared (a "zip bomb", a chunk claiming a small shape) is stopped one
/// output piece past the limit, with memory bounded by the limit rather than by what the stream
/// would expand to.
enum BoundedInflater {
    static let outputChunk = 1 << 18

    /// How a stream failed; each reader words it for its own container.
    enum Failure: Error {
        /// The stream would produce more than the limit.
        case beyondLimit
        /// zlib refused the data.
        case corrupt(String)
        /// The input ended before the stream's end marker, after `produced` bytes.
        case unterminated(produced: Int)
    }

    /// Inflates the stream whose bytes `nextInput` hands out (an empty piece ends the input).
    ///
    /// - Parameters:
    ///   - windowBits: zlib's: 15 for a zlib-wrapped stream (HDF5's deflate filter), -15 for raw
    ///     deflate (zip).
    ///   - limit: the most bytes the stream may produce.
    static func inflate(windowBits: Int32, limit: Int, nextInput: () throws -> [UInt8]) throws -> [UInt8] {
        // zlib keeps a pointer back to the stream: it must not move while in use.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        guard czlib_inflate_init2(stream, windowBits) == Z_OK else { throw Failure.corrupt("inflateInit2 failed") }
        defer { inflateEnd(stream) }

        var out: [UInt8] = []
        out.reserveCapacity(min(limit, 1 << 24))
        var chunk = [UInt8](repeating: 0, count: outputChunk)
        var finished = false
        while !finished {
            var input = try nextInput()
            guard !input.isEmpty else { throw Failure.unterminated(produced: out.count) }
            try input.withUnsafeMutableBufferPointer { inBuffer in
                stream.pointee.next_in = inBuffer.baseAddress
                stream.pointee.avail_in = UInt32(inBuffer.count)
                while !finished && (stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0) {
                    let produced = try chunk.withUnsafeMutableBufferPointer { outBuffer -> Int in
                        stream.pointee.next_out = outBuffer.baseAddress
                        stream.pointee.avail_out = UInt32(outBuffer.count)
                        let status = CZlib.inflate(stream, Z_NO_FLUSH)
                        switch status {
                        case Z_OK, Z_BUF_ERROR: break
                        case Z_STREAM_END: finished = true
                        default:
                            throw Failure.corrupt(stream.pointee.msg.map { String(cString: $0) } ?? "status \(status)")
                        }
                        return outBuffer.count - Int(stream.pointee.avail_out)
                    }
                    guard produced <= limit - out.count else { throw Failure.beyondLimit }
                    out.append(contentsOf: chunk[0..<produced])
                    if produced == 0 && (stream.pointee.avail_in == 0 || stream.pointee.avail_out != 0) { break }
                }
                stream.pointee.next_in = nil
                stream.pointee.avail_in = 0
            }
        }
        return out
    }
}

/// CRC-32 (zip's checksum) through zlib.
enum CRC32 {
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt = crc32(0, nil, 0)
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var start = 0
            while start < buffer.count {
                let n = min(buffer.count - start, 1 << 30)
                crc = crc32(crc, base + start, UInt32(n))
                start += n
            }
        }
        return UInt32(truncatingIfNeeded: crc)
    }
}
