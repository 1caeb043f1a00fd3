/// Every failure of reading, validating, importing or writing a model file.
///
/// One pattern-matchable type: `code` says what went wrong, `file` is the path as the user gave
/// it, `object` the HDF5 object path, checkpoint key or other place inside the file, and
/// `message` says what was expected and what was found. `description` is the one line the CLI
/// prints after `error: `.
public struct RNNFormatError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: Sendable, Hashable {
        /// The file cannot be opened, read or written (missing, permissions, disk full).
        case io
        /// The bytes are not a file of the expected kind (not HDF5, not a zip, not .npy, ...).
        case notRecognized
        /// The file ends before the data it declares.
        case truncated
        /// A libhdf5 call failed; the message carries the function and libhdf5's error stack.
        case hdf5(function: String)
        /// The file declares a format version this reader does not read.
        case unsupportedVersion
        /// A tensor the module needs is absent.
        case missingTensor
        /// An object in a module group that the module does not define.
        case unexpectedObject
        /// A tensor whose shape differs from the one the hyperparameters require.
        case shapeMismatch
        /// An element type outside the spec's list.
        case unsupportedType
        /// NaN or infinity in a parameter.
        case nonFinite
        /// An attribute that is malformed or contradicts the tensors.
        case invalidAttribute
        /// A `module` attribute naming no supported kind, or tensors that fit no kind.
        case unknownKind
        /// No module where one was required, or a module path that does not exist or is ambiguous.
        case moduleNotFound
        /// The restricted reading profile refused the object (links, external storage, filters,
        /// virtual datasets, limits); spec/FORMAT.md "Security".
        case refused
        /// A stored checksum does not match the data.
        case checksumMismatch
        /// A pickle, zip, safetensors or .npy structure that is malformed.
        case malformed
        /// A pickle global or opcode outside the allow-list.
        case refusedPickle
        /// The output exists and overwriting was not requested.
        case alreadyExists
        /// A module or option the quantizer or exporter cannot handle.
        case unsupported
    }

    public var code: Code
    public var file: String
    public var object: String?
    public var message: String

    public init(_ code: Code, file: String, object: String? = nil, _ message: String) {
        self.code = code
        self.file = file
        self.object = object
        self.message = message
    }

    /// One line: control characters from the file (member names, pickle strings, header text)
    /// are escaped, so a hostile file cannot break the line or forge output after it.
    public var description: String {
        let line = if let object, !object.isEmpty { "\(file): \(object): \(message)" } else { "\(file): \(message)" }
        guard line.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return line }
        var escaped = ""
        for scalar in line.unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            case _ where scalar.properties.generalCategory == .control:
                escaped += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
