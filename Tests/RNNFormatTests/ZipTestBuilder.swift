import CZlib

/// Builds zip archives in memory for tests, honest or lying on purpose.
struct ZipTestBuilder {
    struct Member {
        var name: String
        /// The bytes written as the member's data (already compressed when `method` is 8).
        var data: [UInt8]
        var method: UInt16 = 0
        var crc32: UInt32
        var uncompressedSize: UInt64
    }

    var members: [Member] = []

    /// A stored member with true sizes and CRC.
    mutating func stored(_ name: String, _ data: [UInt8]) {
        members.append(Member(name: name, data: data, crc32: Self.crc(data), uncompressedSize: UInt64(data.count)))
    }

    /// A deflated member with true sizes and CRC.
    mutating func deflated(_ name: String, _ data: [UInt8]) {
        members.append(Member(name: name, data: Self.deflate(data), method: 8, crc32: Self.crc(data), uncompressedSize: UInt64(data.count)))
    }

    static func crc(_ data: [UInt8]) -> UInt32 {
        UInt32(data.withUnsafeBufferPointer { crc32(0, $0.baseAddress, UInt32($0.count)) })
    }

    /// Raw deflate of `data` (one call, small inputs).
    static func deflate(_ data: [UInt8]) -> [UInt8] {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { deflateEnd(stream); stream.deallocate() }
        precondition(czlib_deflate_init2(stream, 9, -15) == Z_OK)
        var input = data
        var output = [UInt8](repeating: 0, count: Int(deflateBound(stream, UInt(data.count))) + 64)
        let produced = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.pointee.next_in = inBuffer.baseAddress
                stream.pointee.avail_in = UInt32(inBuffer.count)
                stream.pointee.next_out = outBuffer.baseAddress
                stream.pointee.avail_out = UInt32(outBuffer.count)
                precondition(CZlib.deflate(stream, Z_FINISH) == Z_STREAM_END)
                return outBuffer.count - Int(stream.pointee.avail_out)
            }
        }
        return Array(output.prefix(produced))
    }

    /// A raw deflate stream that inflates to `chunks` MiB of zeros, built from one
    /// independently flushed compressed MiB repeated, so building it costs almost nothing.
    static func zeroBomb(mebibytes chunks: Int) -> [UInt8] {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { deflateEnd(stream); stream.deallocate() }
        precondition(czlib_deflate_init2(stream, 9, -15) == Z_OK)
        var zeros = [UInt8](repeating: 0, count: 1 << 20)
        func run(_ flush: Int32) -> [UInt8] {
            var output = [UInt8](repeating: 0, count: 1 << 16)
            let produced = zeros.withUnsafeMutableBufferPointer { inBuffer in
                output.withUnsafeMutableBufferPointer { outBuffer in
                    stream.pointee.next_in = flush == Z_FINISH ? nil : inBuffer.baseAddress
                    stream.pointee.avail_in = flush == Z_FINISH ? 0 : UInt32(inBuffer.count)
                    stream.pointee.next_out = outBuffer.baseAddress
                    stream.pointee.avail_out = UInt32(outBuffer.count)
                    _ = CZlib.deflate(stream, flush)
                    precondition(stream.pointee.avail_in == 0)
                    return outBuffer.count - Int(stream.pointee.avail_out)
                }
            }
            return Array(output.prefix(produced))
        }
        // The first full flush ends on a byte boundary and resets the history, so the second
        // block is self-contained and can be repeated.
        let first = run(Z_FULL_FLUSH)
        let block = run(Z_FULL_FLUSH)
        var out = first
        out.reserveCapacity(first.count + block.count * chunks)
        for _ in 1..<chunks { out.append(contentsOf: block) }
        out.append(contentsOf: run(Z_FINISH))
        return out
    }

    /// The archive's bytes: local headers and data, central directory, end record.
    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        var directory: [UInt8] = []
        func u16(_ v: Int, _ into: inout [UInt8]) { into += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: UInt64, _ into: inout [UInt8]) { for i in 0..<4 { into.append(UInt8(v >> (8 * UInt64(i)) & 0xFF)) } }
        for m in members {
            let offset = UInt64(out.count)
            let name = Array(m.name.utf8)
            let usize = min(m.uncompressedSize, 0xFFFF_FFFE)
            u32(0x0403_4B50, &out); u16(20, &out); u16(0, &out); u16(Int(m.method), &out); u16(0, &out); u16(0, &out)
            u32(UInt64(m.crc32), &out); u32(UInt64(m.data.count), &out); u32(usize, &out)
            u16(name.count, &out); u16(0, &out); out += name
            out += m.data
            u32(0x0201_4B50, &directory); u16(20, &directory); u16(20, &directory); u16(0, &directory)
            u16(Int(m.method), &directory); u16(0, &directory); u16(0, &directory)
            u32(UInt64(m.crc32), &directory); u32(UInt64(m.data.count), &directory); u32(usize, &directory)
            u16(name.count, &directory); u16(0, &directory); u16(0, &directory); u16(0, &directory); u16(0, &directory)
            u32(0, &directory); u32(offset, &directory); directory += name
        }
        let directoryOffset = UInt64(out.count)
        out += directory
        u32(0x0605_4B50, &out); u16(0, &out); u16(0, &out); u16(members.count, &out); u16(members.count, &out)
        u32(UInt64(directory.count), &out); u32(directoryOffset, &out); u16(0, &out)
        return out
    }
}
