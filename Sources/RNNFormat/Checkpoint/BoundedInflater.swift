import CZlib

/// Raw-deflate decompression that never produces more than the size the archive declared.
///
/// Input is read from the file in chunks and output is appended chunk by chunk, so a member that
/// lies about its size (a "zip bomb") is stopped one output chunk past its declaration, with
/// memory bounded by that declaration rather than by what the stream would expand to.
enum BoundedInflater {
    static let inputChunk = 1 << 20
    static let outputChunk = 1 << 18

    /// Inflates `compressedSize` bytes at `offset` of `file`, expecting exactly `expectedSize` bytes.
    /// - Throws: `.refused` when the stream inflates beyond `expectedSize`, `.malformed` for a
    ///   corrupt or short stream, `.truncated` when the stream ends before its end marker.
    static func inflate(file: RandomAccessFile, offset: Int, compressedSize: Int, expectedSize: Int, member: String) throws -> [UInt8] {
        func failure(_ code: RNNFormatError.Code, _ message: String) -> RNNFormatError {
            RNNFormatError(code, file: file.path, object: member, message)
        }
        // zlib keeps a pointer back to the stream: it must not move while in use.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        guard czlib_inflate_init2(stream, -15) == Z_OK else {
            throw failure(.io, "zlib: inflateInit2 failed")
        }
        defer { inflateEnd(stream) }

        var out: [UInt8] = []
        out.reserveCapacity(min(expectedSize, 1 << 24))
        var chunk = [UInt8](repeating: 0, count: outputChunk)
        var consumed = 0
        var finished = false
        while !finished {
            guard consumed < compressedSize else {
                throw failure(.truncated, "deflate stream ends after \(out.count) of \(expectedSize) bytes without its end marker")
            }
            var input = try file.read(at: offset + consumed, count: min(inputChunk, compressedSize - consumed))
            consumed += input.count
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
                            let reason = stream.pointee.msg.map { String(cString: $0) } ?? "status \(status)"
                            throw failure(.malformed, "corrupt deflate stream: \(reason)")
                        }
                        return outBuffer.count - Int(stream.pointee.avail_out)
                    }
                    guard produced <= expectedSize - out.count else {
                        throw failure(.refused, "zip member inflates beyond its declared size of \(expectedSize) bytes; refusing (possible zip bomb)")
                    }
                    out.append(contentsOf: chunk[0..<produced])
                    if produced == 0 && stream.pointee.avail_in == 0 { break }
                    if produced == 0 && !finished && stream.pointee.avail_out != 0 { break }
                }
                stream.pointee.next_in = nil
                stream.pointee.avail_in = 0
            }
        }
        guard out.count == expectedSize else {
            throw failure(.malformed, "inflated to \(out.count) bytes, the archive declares \(expectedSize)")
        }
        return out
    }
}

/// CRC-32 (zip's checksum) through zlib.
enum CRC32 {
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt = crc32(0, nil, 0)
        bytes.withUnsafeBufferPointer { buffer in
            var start = 0
            while start < buffer.count {
                let n = min(buffer.count - start, 1 << 30)
                crc = crc32(crc, buffer.baseAddress! + start, UInt32(n))
                start += n
            }
        }
        return UInt32(truncatingIfNeeded: crc)
    }
}
