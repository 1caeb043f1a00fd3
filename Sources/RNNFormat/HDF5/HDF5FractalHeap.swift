/// A fractal heap (HDF5 spec III.G): where dense link and attribute storage keep their messages.
///
/// Objects are found by heap ID. Managed objects live in direct blocks laid out by a doubling
/// table: rows 0 and 1 hold blocks of the starting size, each further row blocks twice the size
/// of the row before, `width` blocks per row; rows whose blocks would exceed the maximum direct
/// block size hold indirect blocks, each a doubling table of its own. Tiny objects live in the ID
/// itself. Huge objects (kept outside the heap through another B-tree) and filtered heaps are
/// refused: libhdf5 creates them only for objects over 64 KiB, beyond the profile's attribute cap.
struct HDF5FractalHeap {
    let address: UInt64
    let idLength: Int
    let checksummedBlocks: Bool
    let maxManagedSize: Int
    let width: Int
    let startSize: Int
    let maxDirectSize: Int
    /// Bytes of a heap offset and of an object length in a managed ID.
    let offsetBytes: Int
    let lengthBytes: Int
    let rootAddress: UInt64?
    let rootRows: Int
    /// Rows of a doubling table that hold direct blocks.
    let maxDirectRows: Int

    init(reader: HDF5Reader, at address: UInt64, object: String) throws {
        let what = "fractal heap header"
        let size = 4 + 1 + 2 + 2 + 1 + 4 + 12 * reader.lengthSize + 3 * reader.offsetSize + 2 + 2 + 2 + 2 + 4
        let bytes = try reader.metadata(at: address, count: size, what, object: object)
        var cursor = reader.cursor(bytes, what, at: address, object: object)
        func damaged(_ detail: String) -> RNNFormatError { reader.damaged(what, at: address, object: object, detail) }
        guard try cursor.signature("FRHP") else { throw damaged("no FRHP signature") }
        let version = try cursor.u8("version")
        guard version == 0 else { throw damaged("version \(version) (expected 0)") }
        self.address = address
        idLength = Int(try cursor.u16("heap ID length"))
        let filterLength = Int(try cursor.u16("I/O filters' encoded length"))
        let flags = try cursor.u8("flags")
        checksummedBlocks = flags & 0x02 != 0
        maxManagedSize = try cursor.int(4, "maximum size of managed objects")
        try cursor.skip(reader.lengthSize, "next huge object ID")
        _ = try cursor.address("huge objects B-tree address")
        try cursor.skip(reader.lengthSize, "free space in managed blocks")
        _ = try cursor.address("free-space manager address")
        try cursor.skip(4 * reader.lengthSize, "managed space counters")
        try cursor.skip(4 * reader.lengthSize, "huge and tiny object counters")
        width = Int(try cursor.u16("table width"))
        startSize = try cursor.length("starting block size")
        maxDirectSize = try cursor.length("maximum direct block size")
        let maxHeapBits = Int(try cursor.u16("maximum heap size"))
        _ = try cursor.u16("starting rows of the root indirect block")
        rootAddress = try cursor.address("root block address")
        rootRows = Int(try cursor.u16("current rows of the root indirect block"))
        guard filterLength == 0 else {
            throw reader.refused(object, "filtered fractal heap (dense storage with I/O filters) is not read")
        }
        try reader.verifyChecksum(bytes, end: bytes.count, what, at: address, object: object)
        func isPowerOfTwo(_ n: Int) -> Bool { n > 0 && n & (n - 1) == 0 }
        guard isPowerOfTwo(width), width <= 1 << 16, isPowerOfTwo(startSize), isPowerOfTwo(maxDirectSize),
              startSize <= maxDirectSize, maxDirectSize <= 1 << 30, (1...64).contains(maxHeapBits),
              idLength >= 2, idLength <= 256,
              // Every offset of the table then fits in 62 bits (no overflow in the arithmetic below).
              (startSize * width).trailingZeroBitCount + max(rootRows, 1) <= 62
        else {
            throw damaged("table width \(width), block sizes \(startSize) to \(maxDirectSize), \(maxHeapBits)-bit offsets, ID length \(idLength), \(rootRows) root rows")
        }
        maxDirectRows = maxDirectSize.trailingZeroBitCount - startSize.trailingZeroBitCount + 2
        offsetBytes = (maxHeapBits + 7) / 8
        // libhdf5: the smaller of the bytes of a direct block offset and of the largest object.
        lengthBytes = min((maxDirectSize.trailingZeroBitCount + 7) / 8, HDF5BTree2.encodedSize(UInt64(maxManagedSize)))
    }

    /// Size of the blocks of doubling-table row `row`.
    private func rowSize(_ row: Int) -> Int { row == 0 ? startSize : startSize << (row - 1) }
    /// Offset of row `row` within its table.
    private func rowOffset(_ row: Int) -> Int { row == 0 ? 0 : (startSize * width) << (row - 1) }

    /// The object an ID names.
    ///
    /// - Throws: `.malformed` for an ID or block that does not fit the heap, `.refused` for huge
    ///   objects.
    func object(_ id: ArraySlice<UInt8>, reader: HDF5Reader, object: String) throws -> [UInt8] {
        func damaged(_ detail: String) -> RNNFormatError { reader.damaged("fractal heap ID", at: address, object: object, detail) }
        let id = Array(id)
        guard id.count == idLength, let flags = id.first else { throw damaged("\(id.count) bytes (the heap's IDs have \(idLength))") }
        guard flags >> 6 == 0 else { throw damaged("version \(flags >> 6) (expected 0)") }
        var cursor = reader.cursor(id, "fractal heap ID", at: address, object: object, from: 1)
        switch (flags >> 4) & 0x03 {
        case 0:
            let offset = try cursor.int(offsetBytes, "object offset")
            let length = try cursor.int(lengthBytes, "object length")
            guard length > 0, length <= maxManagedSize else { throw damaged("a managed object of \(length) bytes") }
            return try managed(offset: offset, length: length, reader: reader, object: object)
        case 2:
            guard idLength <= 17 else { throw reader.refused(object, "tiny fractal heap objects with extended lengths are not read") }
            let length = Int(flags & 0x0F) + 1
            return Array(try cursor.take(length, "tiny object"))
        case 1:
            throw reader.refused(object, "huge fractal heap object (over 64 KiB, stored outside the heap) refused")
        default:
            throw damaged("unknown ID type \((flags >> 4) & 0x03)")
        }
    }

    private func managed(offset: Int, length: Int, reader: HDF5Reader, object: String) throws -> [UInt8] {
        guard let root = rootAddress else {
            throw reader.damaged("fractal heap", at: address, object: object, "an object at offset \(offset) of an empty heap")
        }
        var tableAddress = root
        var tableOffset = 0
        var rows = rootRows
        var visited: Set<UInt64> = []
        var blockAddress: UInt64 = root
        var blockOffset = 0
        var blockSize = startSize
        // Down the indirect blocks to the direct block holding `offset`.
        while rows > 0 {
            guard visited.insert(tableAddress).inserted, visited.count <= 64 else {
                throw reader.damaged("fractal heap indirect block", at: tableAddress, object: object, "reached twice (a loop)")
            }
            let relative = offset - tableOffset
            guard relative >= 0 else { throw reader.damaged("fractal heap", at: address, object: object, "object offset \(offset) outside its block") }
            var row = 0
            while row + 1 < rows && rowOffset(row + 1) <= relative { row += 1 }
            let column = (relative - rowOffset(row)) / rowSize(row)
            guard column < width else {
                throw reader.damaged("fractal heap", at: address, object: object, "object offset \(offset) beyond the heap's \(rows) rows")
            }
            let entries = try indirectEntries(at: tableAddress, rows: rows, blockOffset: tableOffset, reader: reader, object: object)
            let entryOffset = tableOffset + rowOffset(row) + column * rowSize(row)
            guard let child = entries[row * width + column] else {
                throw reader.damaged("fractal heap", at: address, object: object, "object offset \(offset) lies in a block never allocated")
            }
            if row < maxDirectRows {
                blockAddress = child
                blockOffset = entryOffset
                blockSize = rowSize(row)
                break
            }
            tableAddress = child
            tableOffset = entryOffset
            rows = rowSize(row).trailingZeroBitCount - (startSize * width).trailingZeroBitCount + 1
            guard rows > 0 else {
                throw reader.damaged("fractal heap", at: address, object: object, "row \(row) holds indirect blocks smaller than a row of the table")
            }
        }
        guard offset - blockOffset >= 0, length <= blockSize, offset - blockOffset <= blockSize - length else {
            throw reader.damaged("fractal heap", at: address, object: object, "object of \(length) bytes at offset \(offset) runs past its block")
        }
        let block = try directBlock(at: blockAddress, size: blockSize, blockOffset: blockOffset, reader: reader, object: object)
        let header = 5 + reader.offsetSize + offsetBytes + (checksummedBlocks ? 4 : 0)
        let start = offset - blockOffset
        guard start >= header else {
            throw reader.damaged("fractal heap direct block", at: blockAddress, object: object, "object offset \(offset) inside the block's header")
        }
        return Array(block[start..<(start + length)])
    }

    /// The child addresses of an indirect block, row by row (nil where unallocated).
    private func indirectEntries(at block: UInt64, rows: Int, blockOffset: Int, reader: HDF5Reader, object: String) throws -> [UInt64?] {
        let what = "fractal heap indirect block"
        let count = rows * width
        let size = 5 + reader.offsetSize + offsetBytes + count * reader.offsetSize + 4
        let bytes = try reader.metadata(at: block, count: size, what, object: object)
        var cursor = reader.cursor(bytes, what, at: block, object: object)
        guard try cursor.signature("FHIB") else { throw reader.damaged(what, at: block, object: object, "no FHIB signature") }
        try checkBlockPrefix(&cursor, what, block: block, expectedOffset: blockOffset, reader: reader, object: object)
        let entries = try (0..<count).map { _ in try cursor.address("child block address") }
        try reader.verifyChecksum(bytes, end: bytes.count, what, at: block, object: object)
        return entries
    }

    private func directBlock(at block: UInt64, size: Int, blockOffset: Int, reader: HDF5Reader, object: String) throws -> [UInt8] {
        let what = "fractal heap direct block"
        var bytes = try reader.metadata(at: block, count: size, what, object: object)
        var cursor = reader.cursor(bytes, what, at: block, object: object)
        guard try cursor.signature("FHDB") else { throw reader.damaged(what, at: block, object: object, "no FHDB signature") }
        try checkBlockPrefix(&cursor, what, block: block, expectedOffset: blockOffset, reader: reader, object: object)
        if checksummedBlocks {
            // The checksum covers the whole block with its own field zeroed.
            let at = cursor.position
            let stored = UInt32(try cursor.uint(4, "checksum"))
            for i in at..<(at + 4) { bytes[i] = 0 }
            let computed = HDF5Checksum.lookup3(bytes[...])
            guard stored == computed else {
                throw reader.damaged(what, at: block, object: object, "checksum \(hex(stored)) stored, the bytes give \(hex(computed))")
            }
        }
        return bytes
    }

    private func checkBlockPrefix(_ cursor: inout HDF5Cursor, _ what: String, block: UInt64, expectedOffset: Int,
                                  reader: HDF5Reader, object: String) throws {
        let version = try cursor.u8("version")
        guard version == 0 else { throw reader.damaged(what, at: block, object: object, "version \(version) (expected 0)") }
        let owner = try cursor.address("heap header address")
        guard owner == address else {
            throw reader.damaged(what, at: block, object: object, "belongs to the heap at \(owner.map { "byte \($0)" } ?? "no address"), not the one at byte \(address)")
        }
        let offset = try cursor.int(offsetBytes, "block offset")
        guard offset == expectedOffset else {
            throw reader.damaged(what, at: block, object: object, "block offset \(offset) where the heap's table puts \(expectedOffset)")
        }
    }
}

extension HDF5Reader {
    /// The messages of dense link or attribute storage: a fractal heap indexed by a version 2
    /// B-tree of `type`, in the index's order.
    ///
    /// - Parameters:
    ///   - limit, tooMany: the most records allowed, and the error for more.
    ///   - heapID: where a record keeps its heap ID, given the heap's ID length (throws for a
    ///     record of the wrong size, or one the profile refuses).
    func denseMessages(heap heapAddress: UInt64, index indexAddress: UInt64, type: HDF5BTree2.RecordType, limit: Int, object: String,
                       tooMany: (Int) -> RNNFormatError, heapID: ([UInt8], Int) throws -> Range<Int>) throws -> [[UInt8]] {
        let heap = try HDF5FractalHeap(reader: self, at: heapAddress, object: object)
        let tree = try HDF5BTree2.records(reader: self, at: indexAddress, type: type, limit: limit, object: object, tooMany: tooMany)
        return try tree.records.map { record in
            try heap.object(record[try heapID(record, heap.idLength)], reader: self, object: object)
        }
    }
}
