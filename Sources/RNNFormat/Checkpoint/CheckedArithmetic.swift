/// Overflow-checked integer arithmetic for sizes and offsets read from files.
///
/// Every size a reader derives from declared values (offsets plus lengths, element counts times
/// element widths, shape products) goes through these, so a hostile value yields a thrown
/// error instead of a trap or a wrapped-around bound check.
enum Checked {
    /// `a + b`, or nil on overflow.
    static func add(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? nil : r
    }

    /// `a * b`, or nil on overflow.
    static func multiply(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : r
    }

    /// The product of `values`, or nil on overflow or when a value is negative.
    static func product<S: Sequence>(_ values: S) -> Int? where S.Element == Int {
        var total = 1
        for v in values {
            guard v >= 0, let next = multiply(total, v) else { return nil }
            total = next
        }
        return total
    }
}

/// Little-endian integer loads from byte arrays at offsets the caller has bounds-checked.
extension Array where Element == UInt8 {
    func littleEndianUInt16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) | UInt16(self[offset + 1]) << 8
    }

    func littleEndianUInt32(at offset: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in (0..<4).reversed() { v = v << 8 | UInt32(self[offset + i]) }
        return v
    }

    func littleEndianUInt64(at offset: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in (0..<8).reversed() { v = v << 8 | UInt64(self[offset + i]) }
        return v
    }
}
