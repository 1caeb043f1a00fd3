/// The checksum of HDF5 metadata (superblocks 2 and 3, version 2 object headers): Bob
/// Jenkins' lookup3 `hashlittle` with initial value 0, as libhdf5's `H5_checksum_lookup3`.
enum HDF5Checksum {
    static func lookup3(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var a: UInt32 = 0xDEAD_BEEF &+ UInt32(truncatingIfNeeded: bytes.count)
        var b = a, c = a
        func rot(_ x: UInt32, _ k: UInt32) -> UInt32 { (x << k) | (x >> (32 - k)) }
        func word(_ i: Int) -> UInt32 {
            // Bytes past the end count as zero (the tail is read byte by byte below).
            var value: UInt32 = 0
            for k in 0..<4 where i + k < bytes.endIndex { value |= UInt32(bytes[i + k]) << (8 * UInt32(k)) }
            return value
        }
        var i = bytes.startIndex
        var remaining = bytes.count
        while remaining > 12 {
            a &+= word(i); b &+= word(i + 4); c &+= word(i + 8)
            a &-= c; a ^= rot(c, 4); c &+= b
            b &-= a; b ^= rot(a, 6); a &+= c
            c &-= b; c ^= rot(b, 8); b &+= a
            a &-= c; a ^= rot(c, 16); c &+= b
            b &-= a; b ^= rot(a, 19); a &+= c
            c &-= b; c ^= rot(b, 4); b &+= a
            i += 12
            remaining -= 12
        }
        if remaining == 0 { return c }
        // The last 1...12 bytes, zero-padded.
        a &+= word(i); b &+= word(i + 4); c &+= word(i + 8)
        c ^= b; c &-= rot(b, 14)
        a ^= c; a &-= rot(c, 11)
        b ^= a; b &-= rot(a, 25)
        c ^= b; c &-= rot(b, 16)
        a ^= c; a &-= rot(c, 4)
        b ^= a; b &-= rot(a, 14)
        c ^= b; c &-= rot(b, 24)
        return c
    }
}
