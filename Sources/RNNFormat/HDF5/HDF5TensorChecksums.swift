import Dispatch
import Foundation

/// Verifies each tensor's `sha256` in reading order, hashing large tensors on a Dispatch worker
/// while the calling thread reads the next tensor through libhdf5.
///
/// Only the hash leaves the calling thread: it runs over an immutable array (a value) and the
/// stored digest was read by the caller. Outcomes are recorded in the order tensors were
/// submitted, so `.enforce` throws the first mismatch in reading order and `.collect` lists every
/// mismatch in that order. At most one hash runs in the background, and `finish()` waits for it:
/// the owner calls `finish()` on every exit path, so no hashing outlives the read.
struct HDF5TensorChecksums {
    /// Below this many bytes a hop to the worker costs more than it saves (biases).
    static let inlineLimit = 256 * 1024

    let file: String
    let mode: HDF5ModelReader.ChecksumMode
    /// HDF5 paths of tensors whose `sha256` matched, in reading order.
    private(set) var checked: [String] = []
    /// `.collect` mode: every mismatch, in reading order.
    private(set) var mismatches: [RNNFormatError] = []
    /// Submitted but not yet recorded, in reading order; at most one is `.background`.
    private var queue: [Submitted] = []

    private struct Submitted {
        let object: String
        let stored: String
        let digest: Digest

        var isBackground: Bool {
            if case .background = digest { return true }
            return false
        }
    }

    private enum Digest {
        case computed(String)
        case background(BackgroundHash)

        var hex: String {
            switch self {
            case .computed(let hex): hex
            case .background(let hash): hash.wait()
            }
        }
    }

    init(file: String, mode: HDF5ModelReader.ChecksumMode) {
        self.file = file
        self.mode = mode
    }

    /// Checks `object`'s bytes against `stored` (64 lowercase hex digits), now or in the
    /// background.
    ///
    /// - Parameters:
    ///   - byteCount: how many bytes `hash` digests (decides inline or background).
    ///   - hash: the SHA-256 hex digest of the tensor's bytes as stored; must only read values it
    ///     captured (it may run on another thread).
    /// - Throws: `.enforce`: `.checksumMismatch` of the first mismatching tensor submitted so far.
    mutating func check(_ object: String, stored: String, byteCount: Int, hash: @escaping @Sendable () -> String) throws {
        guard byteCount >= Self.inlineLimit else {
            queue.append(Submitted(object: object, stored: stored, digest: .computed(hash())))
            if !queue.contains(where: \.isBackground) { try finish() }
            return
        }
        // One hash in flight: wait for the previous before starting this one.
        try finish()
        queue.append(Submitted(object: object, stored: stored, digest: .background(BackgroundHash(hash))))
    }

    /// Waits for the background hash and records every submitted tensor in order.
    ///
    /// - Throws: `.enforce`: `.checksumMismatch` of the first mismatching tensor, after all
    ///   hashing has finished.
    mutating func finish() throws {
        let submitted = queue
        queue = []
        var first: RNNFormatError?
        for entry in submitted {
            let computed = entry.digest.hex
            guard computed == entry.stored else {
                let error = RNNFormatError(.checksumMismatch, file: file, object: entry.object,
                                           "checksum mismatch: attribute sha256 is \(entry.stored), the data hashes to \(computed)")
                switch mode {
                case .enforce: first = first ?? error
                case .collect: mismatches.append(error)
                }
                continue
            }
            checked.append(entry.object)
        }
        if let first { throw first }
    }
}

/// One SHA-256 running on a Dispatch worker; `wait()` returns its hex digest.
// @unchecked Sendable: `digest` is written once by the worker and read by the owner, both under
// `lock`, and the owner reads it only after `done.wait()` (the worker's `leave()` follows its write).
private final class BackgroundHash: @unchecked Sendable {
    private static let worker = DispatchQueue(label: "RNNFormat.HDF5TensorChecksums")
    private let lock = NSLock()
    private let done = DispatchGroup()
    private var digest = ""

    init(_ hash: @escaping @Sendable () -> String) {
        done.enter()
        Self.worker.async { [self] in
            let hex = hash()
            lock.withLock { digest = hex }
            done.leave()
        }
    }

    func wait() -> String {
        done.wait()
        return lock.withLock { digest }
    }
}
