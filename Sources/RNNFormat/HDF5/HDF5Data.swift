/// How to read one dataset's elements, resolved and checked while the file was walked: where the
/// bytes are, their element size and byte order, and the fill value for parts never written.
///
/// A plan is a value: reading needs only it and the byte source, so datasets may be read on
/// several threads at once.
struct HDF5DataPlan: Sendable {
    enum Source: Sendable {
        /// Compact storage: the bytes were in the layout message.
        case bytes([UInt8])
        /// Contiguous storage: `byteCount` bytes at this source offset.
        case run(offset: Int)
        /// Never written: every element is the fill value.
        case fill
        /// Chunked storage.
        case chunks([HDF5Chunk], chunkDims: [Int], filters: [HDF5FilterPipeline.Filter], unfilteredEdges: Bool)
    }

    var source: Source
    var shape: [Int]
    var elementSize: Int
    var bigEndian: Bool
    /// One element's bytes as stored; nil for zeros.
    var fill: [UInt8]?
    /// Bytes the elements take: shape x element size.
    var byteCount: Int

    /// Bytes stored in the file (libhdf5's `H5Dget_storage_size`).
    var storedBytes: Int {
        switch source {
        case .bytes(let bytes): bytes.count
        case .run: byteCount
        case .fill: 0
        case .chunks(let chunks, _, _, _): chunks.reduce(0) { $0 + $1.size }
        }
    }

    /// Reads every element into `destination` (`byteCount` bytes) in little-endian order, calling
    /// `consume` with consecutive pieces of the result as they become final (for hashing while
    /// the bytes are still in cache).
    ///
    /// - Parameters:
    ///   - name, object: for errors.
    /// - Throws: `.malformed` for damaged chunks, `.io`/`.truncated` for failed reads.
    func read(from file: ByteSource, into destination: UnsafeMutableRawBufferPointer, object: String,
              consume: (UnsafeRawBufferPointer) -> Void) throws {
        precondition(destination.count == byteCount, "destination of \(destination.count) bytes for \(byteCount)")
        switch source {
        case .run(let offset):
            // In pieces, each converted and consumed while it is in cache.
            let piece = 1 << 20
            var done = 0
            while done < byteCount {
                let count = min(piece, byteCount - done)
                let part = UnsafeMutableRawBufferPointer(rebasing: destination[done..<(done + count)])
                try file.copy(at: offset + done, into: part)
                if bigEndian { Self.swapBytes(part, elementSize: elementSize) }
                consume(UnsafeRawBufferPointer(part))
                done += count
            }
            return
        case .bytes(let bytes):
            guard bytes.count == byteCount else {
                throw RNNFormatError(.malformed, file: file.name, object: object, "compact data of \(bytes.count) bytes for \(byteCount) declared")
            }
            bytes.withUnsafeBytes { destination.copyMemory(from: $0) }
        case .fill:
            fillAll(destination)
        case .chunks(let chunks, let chunkDims, let filters, let unfilteredEdges):
            try assemble(chunks, chunkDims: chunkDims, filters: filters, unfilteredEdges: unfilteredEdges, file: file, into: destination, object: object)
        }
        if bigEndian { Self.swapBytes(destination, elementSize: elementSize) }
        consume(UnsafeRawBufferPointer(destination))
    }

    private func fillAll(_ destination: UnsafeMutableRawBufferPointer) {
        guard let fill, fill.contains(where: { $0 != 0 }) else {
            destination.initializeMemory(as: UInt8.self, repeating: 0)
            return
        }
        for start in stride(from: 0, to: destination.count, by: elementSize) {
            for (k, byte) in fill.enumerated() { destination[start + k] = byte }
        }
    }

    private func assemble(_ chunks: [HDF5Chunk], chunkDims: [Int], filters: [HDF5FilterPipeline.Filter], unfilteredEdges: Bool,
                          file: ByteSource, into destination: UnsafeMutableRawBufferPointer, object: String) throws {
        let rank = shape.count
        let grid = zip(shape, chunkDims).map { ($0 + $1 - 1) / $1 }
        if chunks.count < grid.reduce(1, *) { fillAll(destination) }
        let chunkElements = chunkDims.reduce(1, *)
        let chunkBytes = chunkElements * elementSize
        // Element strides of the dataset and of a chunk, row-major.
        var strides = [Int](repeating: 1, count: rank)
        var chunkStrides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) {
            strides[d] = strides[d + 1] * shape[d + 1]
            chunkStrides[d] = chunkStrides[d + 1] * chunkDims[d + 1]
        }
        var seen = Set<[Int]>()
        for chunk in chunks {
            guard seen.insert(chunk.origin).inserted else {
                throw RNNFormatError(.malformed, file: file.name, object: object, "damaged chunk index: two chunks at \(chunk.origin)")
            }
            let stored = try file.read(at: chunk.offset, count: chunk.size)
            let isEdge = (0..<rank).contains { chunk.origin[$0] + chunkDims[$0] > shape[$0] }
            let bytes: [UInt8]
            if filters.isEmpty || (unfilteredEdges && isEdge) {
                guard stored.count == chunkBytes else {
                    throw RNNFormatError(.malformed, file: file.name, object: object, "damaged chunk at \(chunk.origin): \(stored.count) bytes for \(chunkBytes)")
                }
                bytes = stored
            } else {
                bytes = try HDF5Filters.decode(stored, filters: filters, mask: chunk.filterMask, expected: chunkBytes, elementSize: elementSize) { detail in
                    RNNFormatError(.malformed, file: file.name, object: object, "damaged chunk at \(chunk.origin): \(detail)")
                }
            }
            // Copy the chunk's part inside the dataset, one run along the last dimension at a time.
            let extent = (0..<rank).map { min(chunkDims[$0], shape[$0] - chunk.origin[$0]) }
            let runBytes = extent[rank - 1] * elementSize
            var position = [Int](repeating: 0, count: rank)
            bytes.withUnsafeBytes { source in
                guard let from0 = source.baseAddress, let to0 = destination.baseAddress else { return }
                while true {
                    var target = 0, from = 0
                    for d in 0..<rank {
                        target += (chunk.origin[d] + position[d]) * strides[d]
                        from += position[d] * chunkStrides[d]
                    }
                    (to0 + target * elementSize).copyMemory(from: from0 + from * elementSize, byteCount: runBytes)
                    // Next run: advance the dimensions before the last, odometer style.
                    var d = rank - 2
                    while d >= 0 {
                        position[d] += 1
                        if position[d] < extent[d] { break }
                        position[d] = 0
                        d -= 1
                    }
                    if d < 0 { break }
                }
            }
        }
    }

    /// Reverses the bytes of each element in place.
    static func swapBytes(_ buffer: UnsafeMutableRawBufferPointer, elementSize: Int) {
        guard elementSize > 1 else { return }
        for start in stride(from: 0, to: buffer.count - elementSize + 1, by: elementSize) {
            var i = start, j = start + elementSize - 1
            while i < j {
                buffer.swapAt(i, j)
                i += 1
                j -= 1
            }
        }
    }
}
