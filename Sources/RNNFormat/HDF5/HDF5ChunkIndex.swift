/// One stored chunk of a chunked dataset.
struct HDF5Chunk: Equatable, Sendable {
    /// Element coordinates of the chunk's first element.
    var origin: [Int]
    /// Source offset (base included) and stored size of its bytes.
    var offset: Int
    var size: Int
    /// Bit i set: filter i of the pipeline was skipped for this chunk.
    var filterMask: UInt32
}

/// The chunk indexes of HDF5 (spec VII and III.H-J): a version 1 B-tree (layouts 1-3); in
/// layout 4 a single chunk, implicit (chunks one after another), a fixed array, an extensible
/// array, or a version 2 B-tree. `chunks` returns every chunk the index holds, each checked to lie
/// within the file and on the chunk grid.
struct HDF5ChunkIndex {
    let reader: HDF5Reader
    let object: String
    let layout: HDF5ChunkLayout
    let dims: [Int]
    let maxDims: [Int?]
    let elementSize: Int
    /// Bytes of one chunk before filtering.
    let chunkBytes: Int
    let filtered: Bool

    /// Chunks along each dimension for the current shape, and for the largest the dataspace allows
    /// (nil for an unlimited dimension).
    var gridDims: [Int] { zip(dims, layout.chunkDims).map { ($0 + $1 - 1) / $1 } }
    var maxGrid: [Int?] { zip(maxDims, layout.chunkDims).map { max, chunk in max.map { ($0 + chunk - 1) / chunk } } }

    func chunks() throws -> [HDF5Chunk] {
        guard let address = layout.address else { return [] }
        switch layout.index {
        case .btree1:
            var walk = ChunkTreeWalk(index: self)
            try walk.node(at: address, level: nil)
            return walk.chunks
        case .single(let filteredSize, let mask):
            guard gridDims.allSatisfy({ $0 == 1 }) else {
                throw reader.damaged("chunk index", at: address, object: object, "a single-chunk index for a dataset of \(gridDims) chunks")
            }
            return [try chunk(at: dims.map { _ in 0 }, address: address, size: filteredSize ?? chunkBytes, mask: mask)]
        case .implicit:
            guard !filtered else { throw reader.damaged("chunk index", at: address, object: object, "an implicit index of filtered chunks") }
            let grid = try fixedGrid()
            var chunks: [HDF5Chunk] = []
            let total = grid.reduce(1, *)
            for linear in 0..<total {
                let (start, overflow) = UInt64(linear).multipliedReportingOverflow(by: UInt64(chunkBytes))
                guard !overflow, !start.addingReportingOverflow(address).overflow else {
                    throw reader.damaged("chunk index", at: address, object: object, "implicit chunks beyond the address space")
                }
                let scaled = Self.coordinates(of: linear, grid: grid)
                guard scaled.indices.allSatisfy({ scaled[$0] < gridDims[$0] }) else { continue }
                chunks.append(try chunk(at: scaled, address: address + start, size: chunkBytes, mask: 0))
            }
            return chunks
        case .fixedArray:
            return try fixedArray(at: address)
        case .extensibleArray(let maxBits, let indexElements, let minPointers, let minElements, _):
            return try extensibleArray(at: address, maxBits: maxBits, indexElements: indexElements, minPointers: minPointers, minElements: minElements)
        case .btree2:
            return try btree2(at: address)
        }
    }

    // MARK: Shared

    /// The chunk at scaled coordinates `scaled`, checked to lie within the file.
    func chunk(at scaled: [Int], address: UInt64, size: Int, mask: UInt32) throws -> HDF5Chunk {
        guard size > 0, let offset = reader.offset(of: address, count: size) else {
            throw reader.damaged("chunk", at: address, object: object, "\(size) bytes from there run past the end of the file")
        }
        guard filtered || size == chunkBytes else {
            throw reader.damaged("chunk", at: address, object: object, "an unfiltered chunk of \(size) bytes (its shape holds \(chunkBytes))")
        }
        return HDF5Chunk(origin: zip(scaled, layout.chunkDims).map { $0 * $1 }, offset: offset, size: size, filterMask: mask)
    }

    /// Chunks per dimension of an index whose size is fixed by the maximum dimensions.
    func fixedGrid() throws -> [Int] {
        try maxGrid.map { count in
            guard let count else { throw reader.damaged("chunk index", at: layout.address, object: object, "a fixed-size index for an unlimited dimension") }
            return count
        }
    }

    /// Row-major coordinates of `linear` in a grid.
    static func coordinates(of linear: Int, grid: [Int]) -> [Int] {
        var rest = linear
        var scaled = [Int](repeating: 0, count: grid.count)
        for d in grid.indices.reversed() {
            scaled[d] = rest % max(grid[d], 1)
            rest /= max(grid[d], 1)
        }
        return scaled
    }

    /// Decodes an array element: the chunk's address, and for filtered chunks its size and mask.
    func element(_ cursor: inout HDF5Cursor, elementSize: Int) throws -> (address: UInt64, size: Int, mask: UInt32)? {
        let address = try cursor.address("chunk address")
        var size = chunkBytes
        var mask: UInt32 = 0
        if filtered {
            size = try cursor.int(elementSize - reader.offsetSize - 4, "chunk size")
            mask = try cursor.u32("filter mask")
        }
        return address.map { ($0, size, mask) }
    }

    func checkElementSize(_ size: Int, at address: UInt64, _ what: String) throws {
        let expected = reader.offsetSize + (filtered ? 5 : 0)
        guard filtered ? (size >= expected && size <= reader.offsetSize + 12) : size == reader.offsetSize else {
            throw reader.damaged(what, at: address, object: object, "elements of \(size) bytes for \(filtered ? "filtered" : "unfiltered") chunks")
        }
    }

    // MARK: Fixed array

    private func fixedArray(at address: UInt64) throws -> [HDF5Chunk] {
        let what = "fixed array header"
        let header = try reader.metadata(at: address, count: 12 + reader.offsetSize + reader.lengthSize, what, object: object)
        var cursor = reader.cursor(header, what, at: address, object: object)
        guard try cursor.signature("FAHD") else { throw reader.damaged(what, at: address, object: object, "no FAHD signature") }
        let version = try cursor.u8("version")
        let client = try cursor.u8("client ID")
        let elementSize = Int(try cursor.u8("element size"))
        let pageBits = Int(try cursor.u8("page bits"))
        let count = try cursor.length("number of elements")
        let blockAddress = try cursor.address("data block address")
        try reader.verifyChecksum(header, end: header.count, what, at: address, object: object)
        guard version == 0, client == (filtered ? 1 : 0), pageBits < 32 else {
            throw reader.damaged(what, at: address, object: object, "version \(version), client \(client), \(pageBits) page bits")
        }
        try checkElementSize(elementSize, at: address, what)
        let grid = try fixedGrid()
        guard count == grid.reduce(1, *) else {
            throw reader.damaged(what, at: address, object: object, "\(count) elements for a grid of \(grid) chunks")
        }
        guard let blockAddress else { return [] }
        let blockWhat = "fixed array data block"
        let pageSize = 1 << pageBits
        let pages = count > pageSize ? (count + pageSize - 1) / pageSize : 0
        let prefix = 6 + reader.offsetSize + (pages > 0 ? (pages + 7) / 8 : 0)
        guard count <= (reader.source.size - reader.base) / max(elementSize, 1) else {
            throw reader.damaged(blockWhat, at: blockAddress, object: object, "\(count) elements of \(elementSize) bytes: more than the file holds")
        }
        let blockSize = prefix + 4 + (pages == 0 ? count * elementSize : count * elementSize + pages * 4)
        let block = try reader.metadata(at: blockAddress, count: blockSize, blockWhat, object: object)
        var head = reader.cursor(block, blockWhat, at: blockAddress, object: object)
        guard try head.signature("FADB") else { throw reader.damaged(blockWhat, at: blockAddress, object: object, "no FADB signature") }
        let blockVersion = try head.u8("version")
        let blockClient = try head.u8("client ID")
        let owner = try head.address("header address")
        guard blockVersion == 0, blockClient == client, owner == address else {
            throw reader.damaged(blockWhat, at: blockAddress, object: object, "version \(blockVersion), client \(blockClient), or another array's header")
        }
        var chunks: [HDF5Chunk] = []
        func take(_ cursor: inout HDF5Cursor, _ linear: Int) throws {
            guard let found = try element(&cursor, elementSize: elementSize) else { return }
            let scaled = Self.coordinates(of: linear, grid: grid)
            guard scaled.indices.allSatisfy({ scaled[$0] < gridDims[$0] }) else { return }
            chunks.append(try chunk(at: scaled, address: found.address, size: found.size, mask: found.mask))
        }
        if pages == 0 {
            for linear in 0..<count { try take(&head, linear) }
            try head.skip(4, "checksum")
            try reader.verifyChecksum(block, end: head.position, blockWhat, at: blockAddress, object: object)
            return chunks
        }
        let bitmap = Array(try head.take((pages + 7) / 8, "page bitmap"))
        try head.skip(4, "checksum")
        try reader.verifyChecksum(block, end: head.position, blockWhat, at: blockAddress, object: object)
        var start = head.position
        for page in 0..<pages {
            let elements = min(pageSize, count - page * pageSize)
            let end = start + elements * elementSize + 4
            defer { start = end }
            // libhdf5 writes only the pages it initialised (bit 7 of byte 0 is page 0).
            guard bitmap[page / 8] & (0x80 >> UInt8(page % 8)) != 0 else { continue }
            var cursor = reader.cursor(block, "fixed array page", at: blockAddress, object: object, from: start, to: end)
            for i in 0..<elements { try take(&cursor, page * pageSize + i) }
            try cursor.skip(4, "checksum")
            try reader.verifyChecksum(Array(block[start..<end]), end: end - start, "fixed array page", at: blockAddress, object: object)
        }
        return chunks
    }

    // MARK: Extensible array

    /// The extensible array index of datasets with one unlimited dimension (libhdf5's H5EA):
    /// elements 0..<indexElements in the index block, then super blocks of doubling data blocks
    /// (super block s holds 2^(s/2) data blocks of 2^((s+1)/2) x minElements elements); the first
    /// super blocks' data block addresses sit in the index block itself.
    private func extensibleArray(at address: UInt64, maxBits: Int, indexElements: Int, minPointers: Int, minElements: Int) throws -> [HDF5Chunk] {
        let what = "extensible array header"
        let header = try reader.metadata(at: address, count: 16 + reader.offsetSize + 6 * reader.lengthSize, what, object: object)
        var cursor = reader.cursor(header, what, at: address, object: object)
        guard try cursor.signature("EAHD") else { throw reader.damaged(what, at: address, object: object, "no EAHD signature") }
        let version = try cursor.u8("version")
        let client = try cursor.u8("client ID")
        let elementSize = Int(try cursor.u8("element size"))
        let bits = Int(try cursor.u8("maximum number of elements bits"))
        let inIndex = Int(try cursor.u8("index block elements"))
        let minData = Int(try cursor.u8("data block minimum elements"))
        let minSuper = Int(try cursor.u8("super block minimum data block pointers"))
        let pageBits = Int(try cursor.u8("data block page bits"))
        try cursor.skip(4 * reader.lengthSize, "super and data block counters")
        let maxIndex = try cursor.length("maximum index set")
        try cursor.skip(reader.lengthSize, "number of elements")
        let indexAddress = try cursor.address("index block address")
        try reader.verifyChecksum(header, end: header.count, what, at: address, object: object)
        func isPowerOfTwo(_ n: Int) -> Bool { n > 0 && n & (n - 1) == 0 }
        guard version == 0, client == (filtered ? 1 : 0), (1...64).contains(bits), isPowerOfTwo(minData), isPowerOfTwo(minSuper),
              minSuper >= 2, minData.trailingZeroBitCount <= bits, pageBits < 32, bits <= 62
        else {
            throw reader.damaged(what, at: address, object: object, "version \(version), client \(client), \(bits) bits, \(minData) and \(minSuper) minimums")
        }
        try checkElementSize(elementSize, at: address, what)
        guard bits == maxBits, inIndex == indexElements, minData == minElements, minSuper == minPointers else {
            throw reader.damaged(what, at: address, object: object, "parameters that differ from the dataset's layout message")
        }
        guard let indexAddress else { return [] }
        let elementsInFile = (reader.source.size - reader.base) / max(elementSize, 1)
        guard maxIndex <= elementsInFile else {
            throw reader.damaged(what, at: address, object: object, "\(maxIndex) elements: more than the file holds")
        }
        let superBlocks = 1 + bits - minData.trailingZeroBitCount
        let superInIndex = 2 * minSuper.trailingZeroBitCount
        let dataPointers = 2 * (minSuper - 1)
        let offsetBytes = (bits + 7) / 8
        // Per super block: data blocks, elements per data block, first element (after the index block's).
        var info: [(blocks: Int, elements: Int, start: Int)] = []
        var start = 0
        for s in 0..<superBlocks {
            let blocks = 1 << (s / 2)
            let elements = (1 << ((s + 1) / 2)) * minData
            info.append((blocks, elements, start))
            start += blocks * elements
            if start > elementsInFile + maxIndex { break }  // beyond anything stored
        }
        let blockWhat = "extensible array index block"
        let superAddresses = max(0, superBlocks - superInIndex)
        let indexSize = 6 + reader.offsetSize + inIndex * elementSize + (dataPointers + superAddresses) * reader.offsetSize + 4
        let block = try reader.metadata(at: indexAddress, count: indexSize, blockWhat, object: object)
        var index = reader.cursor(block, blockWhat, at: indexAddress, object: object)
        guard try index.signature("EAIB") else { throw reader.damaged(blockWhat, at: indexAddress, object: object, "no EAIB signature") }
        try checkPrefix(&index, client: client, header: address, blockWhat, at: indexAddress)
        var walk = ElementWalk(index: self, elementSize: elementSize, limit: maxIndex)
        for linear in 0..<inIndex { try walk.take(&index, linear) }
        let dataAddresses = try (0..<dataPointers).map { _ in try index.address("data block address") }
        let superAddressList = try (0..<superAddresses).map { _ in try index.address("super block address") }
        try index.skip(4, "checksum")
        try reader.verifyChecksum(block, end: index.position, blockWhat, at: indexAddress, object: object)
        // Data blocks whose addresses the index block holds: super blocks 0..<superInIndex.
        var pointer = 0
        for s in 0..<min(superInIndex, info.count) {
            for b in 0..<info[s].blocks {
                defer { pointer += 1 }
                guard pointer < dataAddresses.count, let data = dataAddresses[pointer] else { continue }
                let first = inIndex + info[s].start + b * info[s].elements
                try dataBlock(at: data, elements: info[s].elements, first: first, pageBits: pageBits, offsetBytes: offsetBytes,
                              client: client, header: address, walk: &walk)
            }
        }
        for (k, superAddress) in superAddressList.enumerated() {
            let s = superInIndex + k
            guard s < info.count, let superAddress else { continue }
            let blocks = info[s].blocks
            let paged = info[s].elements > (1 << pageBits)
            let pagesPerBlock = paged ? info[s].elements >> pageBits : 0
            let bitmapBytes = paged ? (pagesPerBlock + 7) / 8 : 0
            let superWhat = "extensible array super block"
            let size = 6 + reader.offsetSize + offsetBytes + blocks * bitmapBytes + blocks * reader.offsetSize + 4
            let bytes = try reader.metadata(at: superAddress, count: size, superWhat, object: object)
            var cursor = reader.cursor(bytes, superWhat, at: superAddress, object: object)
            guard try cursor.signature("EASB") else { throw reader.damaged(superWhat, at: superAddress, object: object, "no EASB signature") }
            try checkPrefix(&cursor, client: client, header: address, superWhat, at: superAddress)
            let blockOffset = try cursor.int(offsetBytes, "block offset")
            guard blockOffset == info[s].start else {
                throw reader.damaged(superWhat, at: superAddress, object: object, "block offset \(blockOffset) where super block \(s) starts at \(info[s].start)")
            }
            let bitmaps = try (0..<blocks).map { _ in Array(try cursor.take(bitmapBytes, "page bitmap")) }
            let addresses = try (0..<blocks).map { _ in try cursor.address("data block address") }
            try cursor.skip(4, "checksum")
            try reader.verifyChecksum(bytes, end: cursor.position, superWhat, at: superAddress, object: object)
            for b in 0..<blocks {
                guard let data = addresses[b] else { continue }
                let first = inIndex + info[s].start + b * info[s].elements
                try dataBlock(at: data, elements: info[s].elements, first: first, pageBits: pageBits, offsetBytes: offsetBytes,
                              client: client, header: address, walk: &walk, bitmap: paged ? bitmaps[b] : nil)
            }
        }
        return walk.chunks
    }

    private func checkPrefix(_ cursor: inout HDF5Cursor, client: UInt8, header: UInt64, _ what: String, at address: UInt64) throws {
        let version = try cursor.u8("version")
        let found = try cursor.u8("client ID")
        let owner = try cursor.address("header address")
        guard version == 0, found == client, owner == header else {
            throw reader.damaged(what, at: address, object: object, "version \(version), client \(found), or another array's header")
        }
    }

    /// Reads one data block of `elements` elements, the first being element `first` of the array.
    private func dataBlock(at address: UInt64, elements: Int, first: Int, pageBits: Int, offsetBytes: Int, client: UInt8, header: UInt64,
                           walk: inout ElementWalk, bitmap: [UInt8]? = nil) throws {
        guard first < walk.limit else { return }
        let what = "extensible array data block"
        let prefix = 6 + reader.offsetSize + offsetBytes
        let paged = elements > (1 << pageBits)
        let size = prefix + 4 + (paged ? 0 : elements * walk.elementSize)
        let bytes = try reader.metadata(at: address, count: size, what, object: object)
        var cursor = reader.cursor(bytes, what, at: address, object: object)
        guard try cursor.signature("EADB") else { throw reader.damaged(what, at: address, object: object, "no EADB signature") }
        try checkPrefix(&cursor, client: client, header: header, what, at: address)
        try cursor.skip(offsetBytes, "block offset")
        if !paged {
            for i in 0..<elements { try walk.take(&cursor, first + i) }
            try cursor.skip(4, "checksum")
            try reader.verifyChecksum(bytes, end: cursor.position, what, at: address, object: object)
            return
        }
        try cursor.skip(4, "checksum")
        try reader.verifyChecksum(bytes, end: cursor.position, what, at: address, object: object)
        let pageElements = 1 << pageBits
        let pageSize = pageElements * walk.elementSize + 4
        for page in 0..<(elements / pageElements) {
            if let bitmap, bitmap[page / 8] & (0x80 >> UInt8(page % 8)) == 0 { continue }
            let pageAddress = address + UInt64(prefix + 4 + page * pageSize)
            let pageBytes = try reader.metadata(at: pageAddress, count: pageSize, "extensible array page", object: object)
            var pageCursor = reader.cursor(pageBytes, "extensible array page", at: pageAddress, object: object)
            for i in 0..<pageElements { try walk.take(&pageCursor, first + page * pageElements + i) }
            try reader.verifyChecksum(pageBytes, end: pageBytes.count, "extensible array page", at: pageAddress, object: object)
        }
    }

    /// Maps extensible array elements to chunks: the unlimited dimension varies slowest, the others
    /// in order, by the chunks their maximum sizes allow.
    private struct ElementWalk {
        let index: HDF5ChunkIndex
        let elementSize: Int
        let limit: Int
        let unlimited: Int
        let otherGrid: [Int]
        var chunks: [HDF5Chunk] = []

        init(index: HDF5ChunkIndex, elementSize: Int, limit: Int) {
            self.index = index
            self.elementSize = elementSize
            self.limit = limit
            let grid = index.maxGrid
            let unlimited = grid.firstIndex(where: { $0 == nil }) ?? 0
            self.unlimited = unlimited
            otherGrid = grid.enumerated().filter { $0.offset != unlimited }.map { $0.element ?? 1 }
        }

        mutating func take(_ cursor: inout HDF5Cursor, _ linear: Int) throws {
            guard let found = try index.element(&cursor, elementSize: elementSize), linear < limit else { return }
            let perStep = otherGrid.reduce(1, *)
            var scaled = HDF5ChunkIndex.coordinates(of: linear % max(perStep, 1), grid: otherGrid)
            scaled.insert(linear / max(perStep, 1), at: unlimited)
            guard scaled.indices.allSatisfy({ scaled[$0] < index.gridDims[$0] }) else { return }
            chunks.append(try index.chunk(at: scaled, address: found.address, size: found.size, mask: found.mask))
        }
    }

    // MARK: Version 2 B-tree

    private func btree2(at address: UInt64) throws -> [HDF5Chunk] {
        let limit = max(1, (reader.source.size - reader.base) / (reader.offsetSize + 8))
        let tree = try HDF5BTree2.records(reader: reader, at: address, type: filtered ? .filteredChunk : .chunk,
                                          limit: limit, object: object) {
            reader.damaged("chunk B-tree", at: address, object: object, "\($0) chunks: more than the file can hold")
        }
        let rank = dims.count
        let sizeBytes = tree.recordSize - reader.offsetSize - 4 - 8 * rank
        guard filtered ? (1...8).contains(sizeBytes) : tree.recordSize == reader.offsetSize + 8 * rank else {
            throw reader.damaged("chunk B-tree", at: address, object: object, "records of \(tree.recordSize) bytes for rank \(rank)")
        }
        var chunks: [HDF5Chunk] = []
        for record in tree.records {
            var cursor = reader.cursor(record, "chunk B-tree record", at: address, object: object)
            guard let chunkAddress = try cursor.address("chunk address") else { continue }
            let size = filtered ? try cursor.int(sizeBytes, "chunk size") : chunkBytes
            let mask = filtered ? try cursor.u32("filter mask") : 0
            let scaled = try (0..<rank).map { _ in try cursor.int(8, "scaled offset") }
            guard scaled.indices.allSatisfy({ scaled[$0] < gridDims[$0] }) else { continue }
            chunks.append(try chunk(at: scaled, address: chunkAddress, size: size, mask: mask))
        }
        return chunks
    }
}

/// The version 1 B-tree of a chunked dataset (node type 1): keys hold each chunk's stored size,
/// filter mask and element offsets.
private struct ChunkTreeWalk {
    let index: HDF5ChunkIndex
    var chunks: [HDF5Chunk] = []
    var visited: Set<UInt64> = []

    init(index: HDF5ChunkIndex) { self.index = index }

    mutating func node(at address: UInt64, level expected: Int?) throws {
        let reader = index.reader
        let object = index.object
        let what = "chunk B-tree node"
        let header = try HDF5BTree1Node(reader: reader, at: address, type: 1, expectedLevel: expected, visited: &visited, what, object: object)
        let (level, entries) = (header.level, header.entries)
        let rank = index.dims.count
        let keySize = 8 + 8 * (rank + 1)
        let bytes = try reader.metadata(at: address, count: header.headerSize + entries * (keySize + reader.offsetSize) + keySize, what, object: object)
        var cursor = reader.cursor(bytes, what, at: address, object: object, from: header.headerSize)
        for _ in 0..<entries {
            let size = try cursor.int(4, "chunk size")
            let mask = try cursor.u32("filter mask")
            let origin = try (0...rank).map { _ in try cursor.int(8, "chunk offset") }
            guard let child = try cursor.address("child address") else {
                throw reader.damaged(what, at: address, object: object, "a child with an undefined address")
            }
            if level > 0 {
                try node(at: child, level: level - 1)
                continue
            }
            let scaled = zip(origin.prefix(rank), index.layout.chunkDims).map { $0 / $1 }
            guard origin.last == 0, zip(scaled, index.layout.chunkDims).map({ $0 * $1 }) == Array(origin.prefix(rank)) else {
                throw reader.damaged(what, at: address, object: object, "chunk offset \(origin) off the chunk grid \(index.layout.chunkDims)")
            }
            guard scaled.indices.allSatisfy({ scaled[$0] < index.gridDims[$0] }) else { continue }
            chunks.append(try index.chunk(at: scaled, address: child, size: size, mask: mask))
        }
    }
}
