import Dispatch
import Foundation

/// Reads the tensor datasets of a model file, verifying each one's SHA-256 while its bytes are
/// copied, on up to two threads.
///
/// Each dataset is read straight into the storage it ends up in (a float32 tensor's own array;
/// other types into a byte buffer that is then converted), a megabyte at a time, and hashed piece
/// by piece while the piece is still in cache: the file is read once and never mapped, so peak
/// memory is the weights plus a piece. Datasets are independent values (`HDF5DataPlan`), so two
/// threads take them largest first, which is what makes verifying the checksums cost about as
/// much as reading the file. Outcomes are reported in reading order whatever the thread order.
enum HDF5TensorReads {
    /// One dataset to read.
    struct Request: Sendable {
        var dataset: HDF5Catalog.Dataset
        var type: ElementType
        /// Whether to hash it (it has a `sha256` attribute).
        var hashed: Bool
    }

    /// What reading one dataset gave.
    struct Outcome: Sendable {
        var values: Values
        /// Lowercase hex SHA-256 of the bytes as stored (little-endian), when asked.
        var digest: String?
        /// Float tensors: whether every value is finite.
        var finite: Bool
    }

    enum Values: Sendable {
        case float([Float])
        case int8([Int8])
    }

    /// Reads every request; element `i` of the result is request `i`'s outcome or error.
    static func read(_ requests: [Request], from file: ByteSource, threads: Int = 2) -> [Result<Outcome, Error>] {
        let order = requests.indices.sorted { requests[$0].dataset.declaredBytes > requests[$1].dataset.declaredBytes }
        let results = Results(count: requests.count)
        let total = requests.reduce(0) { $0 + $1.dataset.declaredBytes }
        // A second thread pays for itself only past a few megabytes.
        let workers = total >= 4 << 20 && requests.count > 1 ? max(1, threads) : 1
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let next = results.claim() {
                let index = order[next]
                results.store(index, Result { try readOne(requests[index], from: file) })
            }
        }
        return results.all()
    }

    private static func readOne(_ request: Request, from file: ByteSource) throws -> Outcome {
        let dataset = request.dataset
        let count = dataset.shape.reduce(1, *)
        var hasher = request.hashed ? SHA256() : nil
        func consume(_ piece: UnsafeRawBufferPointer) { hasher?.update(raw: piece) }
        if request.type == .float32, 1.littleEndian == 1 {
            var failure: Error?
            let scalars = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                do {
                    let raw = UnsafeMutableRawBufferPointer(buffer)
                    prefault(raw)
                    try dataset.plan.read(from: file, into: raw, object: dataset.path, consume: consume)
                    initialized = count
                } catch {
                    failure = error
                    initialized = 0
                }
            }
            if let failure { throw failure }
            return Outcome(values: .float(scalars), digest: hasher?.hexDigest(), finite: scalars.allSatisfy(\.isFinite))
        }
        var bytes = [UInt8](repeating: 0, count: dataset.declaredBytes)
        try bytes.withUnsafeMutableBytes { try dataset.plan.read(from: file, into: $0, object: dataset.path, consume: consume) }
        let digest = hasher?.hexDigest()
        let scalars: [Float]
        switch request.type {
        case .int8:
            return Outcome(values: .int8(bytes.map { Int8(bitPattern: $0) }), digest: digest, finite: true)
        case .float16:
            scalars = (0..<count).map { HalfPrecision.float(fromFloat16: UInt16(bytes.littleEndian(at: 2 * $0, width: 2))) }
        case .float32:
            scalars = (0..<count).map { Float(bitPattern: UInt32(bytes.littleEndian(at: 4 * $0, width: 4))) }
        case .float64:
            scalars = (0..<count).map { Float(Double(bitPattern: bytes.littleEndian(at: 8 * $0, width: 8))) }
        case .bfloat16:
            scalars = (0..<count).map { HalfPrecision.float(fromBFloat16: UInt16(bytes.littleEndian(at: 2 * $0, width: 2))) }
        }
        return Outcome(values: .float(scalars), digest: digest, finite: scalars.allSatisfy(\.isFinite))
    }

    /// Work claimed by index and results stored by index, under one lock (claims are per
    /// dataset, so the lock is taken a few times per file).
    private final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        private var slots: [Result<Outcome, Error>?]

        init(count: Int) { slots = Array(repeating: nil, count: count) }

        func claim() -> Int? {
            lock.withLock {
                guard next < slots.count else { return nil }
                defer { next += 1 }
                return next
            }
        }

        func store(_ index: Int, _ result: Result<Outcome, Error>) {
            lock.withLock { slots[index] = result }
        }

        func all() -> [Result<Outcome, Error>] {
            lock.withLock { slots.map { $0 ?? .failure(CancellationError()) } }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Maps a fresh tensor buffer's pages in one system call (`MADV_POPULATE_WRITE`, Linux 5.14+)
/// rather than taking a page fault per page during the copy into it; a no-op elsewhere or when
/// the kernel refuses.
private func prefault(_ buffer: UnsafeMutableRawBufferPointer) {
    #if os(Linux)
    guard let base = buffer.baseAddress, buffer.count >= 2 * pageSize else { return }
    let start = (Int(bitPattern: base) + pageSize - 1) & ~(pageSize - 1)
    let end = (Int(bitPattern: base) + buffer.count) & ~(pageSize - 1)
    guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
    _ = madvise(aligned, end - start, MADV_POPULATE_WRITE)
    #endif
}

#if os(Linux)
private let pageSize = max(4096, Int(sysconf(Int32(_SC_PAGESIZE))))
#endif
