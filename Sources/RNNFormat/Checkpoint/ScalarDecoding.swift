/// Decoding of checkpoint storages into float32, and the one conversion `HalfPrecision`
/// lacks (float32 to bfloat16).
enum ScalarDecoding {
    /// float32 to bfloat16, rounding to nearest even (NaN kept quiet).
    static func floatToBFloat16(_ f: Float) -> UInt16 {
        let bits = f.bitPattern
        if f.isNaN { return UInt16(bits >> 16) | 0x40 }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(rounded >> 16)
    }

    /// Decodes the elements of a float storage that `view` selects (any offset and strides)
    /// into float32, in row-major order.
    static func floats(_ bytes: [UInt8], dtype: TorchDType, bigEndian: Bool, view: TorchTensorRef) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(view.elementCount)
        bytes.withUnsafeBytes { raw in
            func word<T: FixedWidthInteger>(_ index: Int, _: T.Type) -> T {
                let v = raw.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.size, as: T.self)
                return bigEndian ? T(bigEndian: v) : T(littleEndian: v)
            }
            switch dtype {
            case .float32: view.forEachStorageIndex { out.append(Float(bitPattern: word($0, UInt32.self))) }
            case .float64: view.forEachStorageIndex { out.append(Float(Double(bitPattern: word($0, UInt64.self)))) }
            case .float16: view.forEachStorageIndex { out.append(HalfPrecision.float(fromFloat16: word($0, UInt16.self))) }
            case .bfloat16: view.forEachStorageIndex { out.append(HalfPrecision.float(fromBFloat16: word($0, UInt16.self))) }
            default: preconditionFailure("floats(_:dtype:) called for \(dtype)")
            }
        }
        return out
    }
}
