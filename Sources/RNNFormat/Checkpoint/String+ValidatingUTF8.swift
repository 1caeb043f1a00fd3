extension String {
    /// `bytes` as a string when they are well-formed UTF-8, nil otherwise: the answer of
    /// `String(validating:as: UTF8.self)`, which needs macOS 15 / iOS 18.
    init?<Bytes: Collection<UInt8>>(validatingUTF8Bytes bytes: Bytes) {
        // String(decoding:) validates on its fast path and replaces each ill-formed sequence
        // with U+FFFD; a replacement never equals the bytes it replaces, so equal bytes mean
        // the input was well-formed.
        let s = bytes.withContiguousStorageIfAvailable { String(decoding: $0, as: UTF8.self) }
            ?? String(decoding: bytes, as: UTF8.self)
        guard s.utf8.count == bytes.count, s.utf8.elementsEqual(bytes) else { return nil }
        self = s
    }
}
