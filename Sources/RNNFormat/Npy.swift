import Foundation

/// An n-dimensional array in NumPy's `.npy` format: C order, little-endian, one of the element
/// types listed in `Values`.
///
/// Reading refuses (with an `RNNFormatError` naming the file) Fortran order, big-endian and
/// object or structured dtypes, malformed headers, truncated data and trailing bytes.
/// float16 values are widened to `Float` exactly; they are narrowed back (to nearest, ties to
/// even) when written.
public struct NpyArray: Sendable, Hashable {
    /// The elements in C order, tagged with the dtype they are stored as.
    public enum Values: Sendable, Hashable {
        /// `<f2`; every float16 is exactly representable as a `Float`.
        case float16([Float])
        /// `<f4`
        case float32([Float])
        /// `<f8`
        case float64([Double])
        /// `|i1`
        case int8([Int8])
        /// `<i4`
        case int32([Int32])
        /// `<i8`
        case int64([Int64])

        public var count: Int {
            switch self {
            case .float16(let v), .float32(let v): v.count
            case .float64(let v): v.count
            case .int8(let v): v.count
            case .int32(let v): v.count
            case .int64(let v): v.count
            }
        }

        /// NumPy's type string for this case (`<f4`, `|i1`, ...).
        public var descr: String {
            switch self {
            case .float16: "<f2"
            case .float32: "<f4"
            case .float64: "<f8"
            case .int8: "|i1"
            case .int32: "<i4"
            case .int64: "<i8"
            }
        }

        /// NumPy's name for the dtype (`float32`, `int64`, ...).
        public var typeName: String {
            switch self {
            case .float16: "float16"
            case .float32: "float32"
            case .float64: "float64"
            case .int8: "int8"
            case .int32: "int32"
            case .int64: "int64"
            }
        }
    }

    public let shape: [Int]
    public let values: Values

    /// Wraps `values` with `shape`; their counts must agree (an empty shape holds one element).
    public init(shape: [Int], values: Values) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
        self.shape = shape
        self.values = values
    }

    /// A float32 array holding `tensor`.
    public init(_ tensor: Tensor) {
        self.init(shape: tensor.shape, values: .float32(tensor.scalars))
    }

    /// An int64 array.
    public init(int64 values: [Int64], shape: [Int]) {
        self.init(shape: shape, values: .int64(values))
    }

    /// The values as float32 (float16 exactly, float64 rounded to nearest); nil for integer arrays.
    public var floatTensor: Tensor? {
        switch values {
        case .float16(let v), .float32(let v): Tensor(shape: shape, trusted: v)
        case .float64(let v): Tensor(shape: shape, trusted: v.map { Float($0) })
        case .int8, .int32, .int64: nil
        }
    }

    /// The values of an integer array widened to `Int64`; nil for float arrays.
    public var integers: [Int64]? {
        switch values {
        case .int8(let v): v.map { Int64($0) }
        case .int32(let v): v.map { Int64($0) }
        case .int64(let v): v
        case .float16, .float32, .float64: nil
        }
    }
}

// MARK: - Reading

extension NpyArray {
    /// Reads a `.npy` file.
    ///
    /// - Parameter path: the file as the user named it (it appears in errors).
    /// - Throws: `RNNFormatError` with code `.io`, `.notRecognized`, `.malformed`,
    ///   `.unsupportedType` or `.truncated`.
    public static func read(path: String) throws -> NpyArray {
        guard FileManager.default.fileExists(atPath: path) else {
            throw RNNFormatError(.io, file: path, "no such file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw RNNFormatError(.io, file: path, "cannot read: \(error.localizedDescription)")
        }
        return try NpyArray(decoding: [UInt8](data), file: path)
    }

    /// Reads a float `.npy` file (float16, float32 or float64) as a float32 tensor.
    ///
    /// - Throws: `RNNFormatError` as `read(path:)`; `.unsupportedType` for integer arrays.
    public static func readFloatTensor(path: String) throws -> Tensor {
        let array = try read(path: path)
        guard let tensor = array.floatTensor else {
            throw RNNFormatError(.unsupportedType, file: path,
                                 "expected a float32 array (float16 and float64 are converted), found \(array.values.typeName)")
        }
        return tensor
    }

    /// Reads an integer `.npy` file (int64, int32 or int8) as `Int64` values.
    ///
    /// - Throws: `RNNFormatError` as `read(path:)`; `.unsupportedType` for float arrays.
    public static func readIntegers(path: String) throws -> (shape: [Int], values: [Int64]) {
        let array = try read(path: path)
        guard let values = array.integers else {
            throw RNNFormatError(.unsupportedType, file: path,
                                 "expected an int64 array (int32 and int8 are accepted), found \(array.values.typeName)")
        }
        return (array.shape, values)
    }

    /// Decodes the bytes of a `.npy` file.
    ///
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - file: the name to report in errors.
    /// - Throws: `RNNFormatError` with code `.notRecognized`, `.malformed`, `.unsupportedType`
    ///   or `.truncated`.
    public init(decoding bytes: [UInt8], file: String) throws {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw RNNFormatError(.notRecognized, file: file, "not a .npy file (no \\x93NUMPY magic)")
        }
        let major = bytes[6]
        let headerStart: Int
        let headerLength: Int
        switch major {
        case 1:
            headerStart = 10
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        case 2, 3:
            guard bytes.count >= 12 else {
                throw RNNFormatError(.truncated, file: file, "file ends inside the .npy preamble")
            }
            headerStart = 12
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        default:
            throw RNNFormatError(.malformed, file: file, "unsupported .npy format version \(major).\(bytes[7]) (expected 1, 2 or 3)")
        }
        guard bytes.count - headerStart >= headerLength else {
            throw RNNFormatError(.truncated, file: file,
                                 "header declares \(headerLength) bytes, file has \(bytes.count - headerStart) after the preamble")
        }
        guard let headerText = String(bytes: bytes[headerStart..<headerStart + headerLength], encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw RNNFormatError(.malformed, file: file, "header is not valid text")
        }
        let header: NpyHeader
        do {
            header = try NpyHeader(parsing: headerText)
        } catch {
            throw RNNFormatError(.malformed, file: file, "malformed header \(headerText.trimmingCharacters(in: .whitespacesAndNewlines).debugDescription): \(error.message)")
        }
        if header.fortranOrder {
            throw RNNFormatError(.unsupportedType, file: file, "Fortran-order array; expected C order (save with np.ascontiguousarray)")
        }
        let kind = try NpyElementKind(descr: header.descr, file: file)

        var count = 1
        for dim in header.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else {
                throw RNNFormatError(.malformed, file: file, "shape \(header.shape) is too large")
            }
            count = product
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: kind.width)
        guard !overflow else {
            throw RNNFormatError(.malformed, file: file, "shape \(header.shape) is too large")
        }
        let dataStart = headerStart + headerLength
        let available = bytes.count - dataStart
        guard available >= byteCount else {
            throw RNNFormatError(.truncated, file: file,
                                 "shape \(header.shape) of \(kind.typeName) needs \(byteCount) data bytes, file has \(available)")
        }
        guard available == byteCount else {
            throw RNNFormatError(.malformed, file: file,
                                 "\(available - byteCount) unexpected bytes after the \(byteCount) data bytes of shape \(header.shape)")
        }
        self.init(shape: header.shape, values: kind.decode(bytes[dataStart...], count: count))
    }
}

// MARK: - Writing

extension NpyArray {
    /// The bytes of a version 1.0 `.npy` file holding this array (header padded to 64 bytes).
    public func encoded() -> [UInt8] {
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = "{'descr': '\(values.descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let headerBytes = Array(header.utf8)

        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
        out.append(UInt8(headerBytes.count & 0xFF))
        out.append(UInt8(headerBytes.count >> 8))
        out += headerBytes
        switch values {
        case .float16(let v):
            // Beyond float16's range NumPy stores infinity; so do we.
            for x in v { appendLittleEndian(HalfPrecision.float16Bits(from: x) ?? (x < 0 ? 0xFC00 : 0x7C00), to: &out) }
        case .float32(let v): for x in v { appendLittleEndian(x.bitPattern, to: &out) }
        case .float64(let v): for x in v { appendLittleEndian(x.bitPattern, to: &out) }
        case .int8(let v): for x in v { out.append(UInt8(bitPattern: x)) }
        case .int32(let v): for x in v { appendLittleEndian(UInt32(bitPattern: x), to: &out) }
        case .int64(let v): for x in v { appendLittleEndian(UInt64(bitPattern: x), to: &out) }
        }
        return out
    }

    /// Writes this array to `path`, replacing any existing file.
    ///
    /// - Throws: `RNNFormatError` with code `.io` when the file cannot be written.
    public func write(path: String) throws {
        let bytes = encoded()
        // Atomically: a full disk or a crash leaves the old file, not a cut-off one.
        try AtomicFile.write(to: path, overwrite: true) { temporary in
            do {
                try Data(bytes).write(to: URL(fileURLWithPath: temporary))
            } catch {
                throw RNNFormatError(.io, file: path, "cannot write: \(error.localizedDescription)")
            }
        }
    }
}

private func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    var v = value.littleEndian
    withUnsafeBytes(of: &v) { out.append(contentsOf: $0) }
}

// MARK: - Element types

/// The dtypes this reader accepts, with their byte widths and decoders.
private enum NpyElementKind {
    case float16, float32, float64, int8, int32, int64

    init(descr: String, file: String) throws {
        var chars = Substring(descr)
        let order = chars.first
        if order == "<" || order == ">" || order == "|" || order == "=" {
            chars = chars.dropFirst()
        }
        let kind: NpyElementKind
        switch chars {
        case "f2", "e": kind = .float16
        case "f4", "f": kind = .float32
        case "f8", "d": kind = .float64
        case "i1", "b": kind = .int8
        case "i4": kind = .int32
        case "i8": kind = .int64
        default:
            throw RNNFormatError(.unsupportedType, file: file,
                                 "unsupported dtype '\(descr)'; expected float16, float32, float64, int8, int32 or int64")
        }
        if order == ">" && kind.width > 1 {
            throw RNNFormatError(.unsupportedType, file: file, "big-endian dtype '\(descr)'; expected little-endian")
        }
        self = kind
    }

    var width: Int {
        switch self {
        case .int8: 1
        case .float16: 2
        case .float32, .int32: 4
        case .float64, .int64: 8
        }
    }

    var typeName: String {
        switch self {
        case .float16: "float16"
        case .float32: "float32"
        case .float64: "float64"
        case .int8: "int8"
        case .int32: "int32"
        case .int64: "int64"
        }
    }

    /// Decodes `count` little-endian elements from the start of `data` (which holds enough bytes).
    func decode(_ data: ArraySlice<UInt8>, count: Int) -> NpyArray.Values {
        data.withUnsafeBytes { raw in
            switch self {
            case .float16:
                return .float16((0..<count).map { HalfPrecision.float(fromFloat16: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) })
            case .float32:
                return .float32((0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) })
            case .float64:
                return .float64((0..<count).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) })
            case .int8:
                return .int8((0..<count).map { Int8(bitPattern: raw[$0]) })
            case .int32:
                return .int32((0..<count).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) })
            case .int64:
                return .int64((0..<count).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) })
            }
        }
    }
}

// MARK: - Header

/// The Python dict literal of a `.npy` header: `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
private struct NpyHeader {
    struct ParseError: Error {
        var message: String
    }

    var descr: String
    var fortranOrder: Bool
    var shape: [Int]

    init(parsing text: String) throws(ParseError) {
        var parser = Parser(chars: Array(text.unicodeScalars))
        var descr: String?
        var fortranOrder: Bool?
        var shape: [Int]?
        try parser.expect("{")
        while true {
            parser.skipSpace()
            if parser.peek() == "}" { parser.index += 1; break }
            let key = try parser.string()
            try parser.expect(":")
            switch key {
            case "descr":
                parser.skipSpace()
                guard parser.peek() == "'" || parser.peek() == "\"" else {
                    throw ParseError(message: "structured dtypes are not supported; expected a simple dtype string")
                }
                descr = try parser.string()
            case "fortran_order": fortranOrder = try parser.bool()
            case "shape": shape = try parser.intTuple()
            default: throw ParseError(message: "unexpected key '\(key)'")
            }
            parser.skipSpace()
            if parser.peek() == "," { parser.index += 1; continue }
            try parser.expect("}")
            break
        }
        parser.skipSpace()
        guard parser.index == parser.chars.count else {
            throw ParseError(message: "text after the closing brace")
        }
        guard let descr else { throw ParseError(message: "no 'descr' key") }
        guard let fortranOrder else { throw ParseError(message: "no 'fortran_order' key") }
        guard let shape else { throw ParseError(message: "no 'shape' key") }
        self.descr = descr
        self.fortranOrder = fortranOrder
        self.shape = shape
    }

    private struct Parser {
        var chars: [Unicode.Scalar]
        var index = 0

        func peek() -> Unicode.Scalar? { index < chars.count ? chars[index] : nil }

        mutating func skipSpace() {
            while let c = peek(), c == " " || c == "\t" || c == "\n" || c == "\r" { index += 1 }
        }

        mutating func expect(_ c: Unicode.Scalar) throws(ParseError) {
            skipSpace()
            guard peek() == c else {
                throw ParseError(message: "expected '\(c)' at offset \(index)")
            }
            index += 1
        }

        mutating func string() throws(ParseError) -> String {
            skipSpace()
            guard let quote = peek(), quote == "'" || quote == "\"" else {
                throw ParseError(message: "expected a quoted string at offset \(index)")
            }
            index += 1
            var out = String.UnicodeScalarView()
            while let c = peek(), c != quote {
                out.append(c)
                index += 1
            }
            guard peek() == quote else { throw ParseError(message: "unterminated string") }
            index += 1
            return String(out)
        }

        mutating func bool() throws(ParseError) -> Bool {
            skipSpace()
            for (word, value) in [("True", true), ("False", false)] {
                let scalars = Array(word.unicodeScalars)
                if index + scalars.count <= chars.count, Array(chars[index..<index + scalars.count]) == scalars {
                    index += scalars.count
                    return value
                }
            }
            throw ParseError(message: "expected True or False at offset \(index)")
        }

        mutating func intTuple() throws(ParseError) -> [Int] {
            try expect("(")
            var values: [Int] = []
            while true {
                skipSpace()
                if peek() == ")" { index += 1; return values }
                var digits = ""
                while let c = peek(), c.properties.numericType == .decimal, c.isASCII {
                    digits.unicodeScalars.append(c)
                    index += 1
                }
                guard !digits.isEmpty, let value = Int(digits) else {
                    throw ParseError(message: "expected a non-negative integer dimension at offset \(index)")
                }
                values.append(value)
                skipSpace()
                if peek() == "," { index += 1; continue }
                try expect(")")
                return values
            }
        }
    }
}
