/// One parameter of a module as held in memory.
public enum Parameter: Sendable, Hashable {
    /// Float values (computed as float32) and the element type the source stored them in.
    case float(Tensor, stored: ElementType)
    /// An int8 weight matrix with its scales.
    case quantized(QuantizedTensor)

    public var shape: [Int] {
        switch self {
        case .float(let t, _): t.shape
        case .quantized(let q): q.shape
        }
    }

    /// The element type as stored in the file.
    public var storedType: ElementType {
        switch self {
        case .float(_, let stored): stored
        case .quantized: .int8
        }
    }

    /// Float values: the tensor itself, or the dequantized matrix.
    public var floatValue: Tensor {
        switch self {
        case .float(let t, _): t
        case .quantized(let q): q.dequantized()
        }
    }
}

/// One RNN module of a file: where it lives, its hyperparameters and its parameters by
/// PyTorch name (`weight_ih_l0`, `bias_hh_l1_reverse`, `weight_ih` for cells, ...).
public struct ModuleRecord: Sendable, Hashable {
    /// The state_dict prefix, dotted (`model.encoder`); empty for a module at the root.
    public var path: String
    public var config: ModuleConfig
    public var parameters: [String: Parameter]

    public init(path: String, config: ModuleConfig, parameters: [String: Parameter]) {
        self.path = path
        self.config = config
        self.parameters = parameters
    }

    /// The HDF5 group of this module: the prefix with `.` replaced by `/`.
    public var groupPath: String { path.isEmpty ? "/" : "/" + String(path.map { $0 == "." ? "/" : $0 }) }

    /// The quantization scheme of the weights, or nil when every weight is float.
    public var quantization: QuantizedTensor.Scheme? {
        for spec in config.expectedParameters where spec.role.isWeight {
            if case .quantized(let q) = parameters[spec.name] { return q.scheme }
        }
        return nil
    }

    /// Bytes the parameters occupy as stored (values only; scales included for int8).
    public var storedBytes: Int {
        parameters.values.reduce(0) { total, p in
            switch p {
            case .float(let t, let stored): total + t.count * stored.byteWidth
            case .quantized(let q): total + q.values.count + q.scales.count * 4 + q.zeroPoints.count * 4
            }
        }
    }
}

/// The format version a file declares.
public struct FormatVersion: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public var major: Int
    public var minor: Int
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }
    /// Parses `"major.minor"`: two non-negative decimal numbers of ASCII digits.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }),
              let major = Int(parts[0]), let minor = Int(parts[1])
        else { return nil }
        self.init(major: major, minor: minor)
    }
    public static func < (a: Self, b: Self) -> Bool { (a.major, a.minor) < (b.major, b.minor) }
    public var description: String { "\(major).\(minor)" }
}

/// File-level metadata (spec/FORMAT.md, "File metadata").
public struct FileMetadata: Sendable, Hashable {
    /// The value of the root attribute `format`.
    public static let formatName = "rnnkit"
    /// The version this library writes and the newest major version it reads.
    public static let currentVersion = FormatVersion(major: 1, minor: 0)

    /// Declared version; nil for a bare dump (datasets only, no attributes).
    public var formatVersion: FormatVersion?
    /// The program that wrote the file.
    public var producer: String?
    /// Free-form user metadata (string keys and values).
    public var user: [String: String]

    public init(formatVersion: FormatVersion? = FileMetadata.currentVersion, producer: String? = nil, user: [String: String] = [:]) {
        self.formatVersion = formatVersion
        self.producer = producer
        self.user = user
    }
}

/// The contents of a model file: metadata and modules in path order.
public struct ModelFile: Sendable, Hashable {
    public var metadata: FileMetadata
    public var modules: [ModuleRecord]
    /// Objects of the source that belong to no RNN module (embeddings, heads, optimizer state),
    /// named as the source names them (HDF5 paths, state_dict keys); sorted. Never written.
    public var leftovers: [String]
    /// How errors name where the model came from: the path, `<data: NAME>`, or empty for a model
    /// made in code. Not part of equality: two files holding the same modules are equal.
    public var source: String = ""

    public init(metadata: FileMetadata = FileMetadata(), modules: [ModuleRecord], leftovers: [String] = []) {
        self.metadata = metadata
        self.modules = modules
        self.leftovers = leftovers
    }
}

extension ModelFile {
    public static func == (a: ModelFile, b: ModelFile) -> Bool {
        a.metadata == b.metadata && a.modules == b.modules && a.leftovers == b.leftovers
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(metadata)
        hasher.combine(modules)
        hasher.combine(leftovers)
    }
}

extension ModelFile {
    /// The module at the dotted state_dict `prefix` ("" for the root), or the only module
    /// when `prefix` is nil.
    ///
    /// - Parameter file: how messages name the model; `source` when nil.
    /// - Throws: `RNNFormatError(.moduleNotFound)` listing the modules the file holds.
    public func module(at prefix: String?, file: String? = nil) throws -> ModuleRecord {
        let file = file ?? (source.isEmpty ? "model" : source)
        let available = modules.map { $0.path.isEmpty ? "\"\" (root)" : $0.path }.joined(separator: ", ")
        guard let prefix else {
            guard modules.count == 1 else {
                throw RNNFormatError(.moduleNotFound, file: file,
                                     modules.isEmpty ? "the file holds no module"
                                         : "the file holds \(modules.count) modules (\(available)); choose one by its prefix")
            }
            return modules[0]
        }
        guard let record = modules.first(where: { $0.path == prefix }) else {
            throw RNNFormatError(.moduleNotFound, file: file, "no module at prefix \"\(prefix)\"; the file holds \(available)")
        }
        return record
    }
}
