import Foundation
import RNNFormat

extension ModelFile {
    /// Writes a canonical v1 file (spec/FORMAT.md) atomically, through libhdf5.
    ///
    /// The file is built in a temporary file in the target's directory, flushed, closed,
    /// synced and renamed into place: readers see the old file or the complete new one, and a
    /// failure leaves no partial output. Modules are validated first; every tensor gets a
    /// `sha256` attribute.
    ///
    /// - Parameters:
    ///   - path: the output file.
    ///   - overwrite: replace an existing file; when false an existing file is refused.
    /// - Throws: `RNNFormatError`: `.alreadyExists`, `.io`, validation errors naming the tensor,
    ///   `.hdf5(function:)`.
    public func write(to path: String, overwrite: Bool) throws {
        try write(to: path, overwrite: overwrite, failure: nil)
    }

    /// `write(to:overwrite:)` for a file URL.
    public func write(to url: URL, overwrite: Bool) throws {
        guard url.isFileURL else { throw RNNFormatError(.io, file: url.absoluteString, "not a file URL") }
        try write(to: url.path, overwrite: overwrite, failure: nil)
    }

    /// `write(to:overwrite:)` with a hook a test uses to make the write fail at a given stage.
    func write(to path: String, overwrite: Bool, failure: ((WriteStage) throws -> Void)?) throws {
        try HDF5ModelWriter.check(self, file: path)
        try AtomicFile.write(to: path, overwrite: overwrite, beforeCommit: { try failure?(.beforeCommit) }) { temporary in
            try HDF5ModelWriter.write(self, temporary: temporary, file: path, failure: failure)
        }
    }
}
