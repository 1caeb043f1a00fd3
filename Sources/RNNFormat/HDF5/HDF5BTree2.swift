/// A version 2 B-tree (HDF5 spec III.A.2): the name indexes of dense link and attribute storage
/// and the chunk index of datasets with more than one unlimited dimension.
///
/// Only enumeration is needed: `records` visits every node once (a node reached twice is a
/// loop), checks each node's signature, type, record count and checksum, and returns the raw
/// records in key order.
enum HDF5BTree2 {
    /// Record types this reader reads.
    enum RecordType: UInt8 {
        case linkName = 5
        case attributeName = 8
        case chunk = 10
        case filteredChunk = 11
    }

    struct Tree {
        var recordSize: Int
        var records: [[UInt8]]
    }

    /// Every record of the tree whose header is at `address`.
    ///
    /// - Parameters:
    ///   - type: the record type the header must declare.
    ///   - limit: at most this many records (the profile's object cap or the chunk count).
    ///   - tooMany: the error for a tree of more records (their count is passed).
    static func records(reader: HDF5Reader, at address: UInt64, type: RecordType, limit: Int, object: String,
                        tooMany: (Int) -> RNNFormatError) throws -> Tree {
        let what = "version 2 B-tree header"
        let headerSize = 4 + 1 + 1 + 4 + 2 + 2 + 1 + 1 + reader.offsetSize + 2 + reader.lengthSize + 4
        let header = try reader.metadata(at: address, count: headerSize, what, object: object)
        var cursor = reader.cursor(header, what, at: address, object: object)
        guard try cursor.signature("BTHD") else { throw reader.damaged(what, at: address, object: object, "no BTHD signature") }
        let version = try cursor.u8("version")
        guard version == 0 else { throw reader.damaged(what, at: address, object: object, "version \(version) (expected 0)") }
        let found = try cursor.u8("type")
        guard found == type.rawValue else {
            throw reader.damaged(what, at: address, object: object, "record type \(found) (expected \(type.rawValue))")
        }
        let nodeSize = try cursor.int(4, "node size")
        let recordSize = Int(try cursor.u16("record size"))
        let depth = Int(try cursor.u16("depth"))
        try cursor.skip(2, "split and merge percents")
        let root = try cursor.address("root node address")
        let rootRecords = Int(try cursor.u16("records in the root node"))
        let total = try cursor.length("total records")
        try reader.verifyChecksum(header, end: header.count, what, at: address, object: object)
        guard recordSize > 0, nodeSize >= 10 + recordSize, nodeSize <= 1 << 20, depth <= 32 else {
            throw reader.damaged(what, at: address, object: object, "node size \(nodeSize), record size \(recordSize), depth \(depth)")
        }
        guard total <= limit else { throw tooMany(total) }
        guard let root else {
            guard total == 0 else { throw reader.damaged(what, at: address, object: object, "\(total) records but no root node") }
            return Tree(recordSize: recordSize, records: [])
        }
        var walk = Walk(reader: reader, object: object, type: type, nodeSize: nodeSize, recordSize: recordSize, depth: depth, limit: min(limit, total))
        try walk.node(at: root, depth: depth, records: rootRecords)
        guard walk.records.count == total else {
            throw reader.damaged(what, at: address, object: object, "the header counts \(total) records, the nodes hold \(walk.records.count)")
        }
        return Tree(recordSize: recordSize, records: walk.records)
    }

    /// Bytes that encode numbers up to `n` (libhdf5's `H5VM_limit_enc_size`).
    static func encodedSize(_ n: UInt64) -> Int {
        (n == 0 ? 0 : (63 - n.leadingZeroBitCount)) / 8 + 1
    }

    private struct Walk {
        let reader: HDF5Reader
        let object: String
        let type: RecordType
        let nodeSize: Int
        let recordSize: Int
        let limit: Int
        /// Per depth: most records a node holds, and the bytes of a child pointer's counts.
        var maxRecords: [Int] = []
        var countSize = 0
        var totalSizes: [Int] = []
        var records: [[UInt8]] = []
        var visited: Set<UInt64> = []

        init(reader: HDF5Reader, object: String, type: RecordType, nodeSize: Int, recordSize: Int, depth: Int, limit: Int) {
            self.reader = reader
            self.object = object
            self.type = type
            self.nodeSize = nodeSize
            self.recordSize = recordSize
            self.limit = limit
            // libhdf5's H5B2__hdr_init: leaves, then each internal level from the one below.
            let leafMax = (nodeSize - 10) / recordSize
            maxRecords = [leafMax]
            countSize = HDF5BTree2.encodedSize(UInt64(leafMax))
            var cumulative = [UInt64(leafMax)]
            totalSizes = [0]
            for level in stride(from: 1, through: depth, by: 1) {
                let pointer = reader.offsetSize + countSize + (level > 1 ? totalSizes[level - 1] : 0)
                let most = max(0, (nodeSize - (10 + pointer)) / (recordSize + pointer))
                maxRecords.append(most)
                let (product, o1) = UInt64(most + 1).multipliedReportingOverflow(by: cumulative[level - 1])
                let (sum, o2) = product.addingReportingOverflow(UInt64(most))
                let count = o1 || o2 ? UInt64.max : sum
                cumulative.append(count)
                totalSizes.append(HDF5BTree2.encodedSize(count))
            }
        }

        mutating func node(at address: UInt64, depth: Int, records count: Int) throws {
            let what = depth == 0 ? "version 2 B-tree leaf" : "version 2 B-tree internal node"
            guard visited.insert(address).inserted else {
                throw reader.damaged(what, at: address, object: object, "reached twice (a loop)")
            }
            guard count <= maxRecords[depth] else {
                throw reader.damaged(what, at: address, object: object, "\(count) records (a node holds at most \(maxRecords[depth]))")
            }
            guard count <= limit - records.count else {
                throw reader.damaged(what, at: address, object: object, "more records than the tree's header counts")
            }
            let bytes = try reader.metadata(at: address, count: nodeSize, what, object: object)
            var cursor = reader.cursor(bytes, what, at: address, object: object)
            guard try cursor.signature(depth == 0 ? "BTLF" : "BTIN") else {
                throw reader.damaged(what, at: address, object: object, "no \(depth == 0 ? "BTLF" : "BTIN") signature")
            }
            let version = try cursor.u8("version")
            let found = try cursor.u8("type")
            guard version == 0, found == type.rawValue else {
                throw reader.damaged(what, at: address, object: object, "version \(version), record type \(found) (expected 0 and \(type.rawValue))")
            }
            var own: [[UInt8]] = []
            for _ in 0..<count { own.append(Array(try cursor.take(recordSize, "record"))) }
            var children: [(UInt64, Int)] = []
            if depth > 0 {
                for _ in 0...count {
                    guard let child = try cursor.address("child node address") else {
                        throw reader.damaged(what, at: address, object: object, "a child pointer with an undefined address")
                    }
                    let childRecords = try cursor.int(countSize, "child record count")
                    if depth > 1 { try cursor.skip(totalSizes[depth - 1], "child total record count") }
                    children.append((child, childRecords))
                }
            }
            try cursor.skip(4, "checksum")
            try reader.verifyChecksum(bytes, end: cursor.position, what, at: address, object: object)
            if depth == 0 {
                records += own
                return
            }
            // In key order: child 0, record 0, child 1, record 1, ..., child n.
            for (index, child) in children.enumerated() {
                try node(at: child.0, depth: depth - 1, records: child.1)
                if index < own.count { records.append(own[index]) }
            }
        }
    }
}
