/// The header of a version 1 B-tree node (HDF5 spec III.A.1): signature `TREE`, node type,
/// level, entries used and the two sibling addresses. Groups' B-trees (type 0) and chunk
/// B-trees (type 1) share it; their keys and children follow the header.
struct HDF5BTree1Node {
    let level: Int
    let entries: Int
    /// Bytes of the header: where the first key starts.
    let headerSize: Int

    /// Reads the header of the node at `address`, which must be of `type`, at `expectedLevel`
    /// (nil for the root), and not in `visited` (then added: a node reached twice is a loop).
    init(reader: HDF5Reader, at address: UInt64, type: UInt8, expectedLevel: Int?, visited: inout Set<UInt64>,
         _ what: String, object: String) throws {
        guard visited.insert(address).inserted else { throw reader.damaged(what, at: address, object: object, "reached twice (a loop)") }
        headerSize = 8 + 2 * reader.offsetSize
        let head = try reader.metadata(at: address, count: headerSize, what, object: object)
        var cursor = reader.cursor(head, what, at: address, object: object)
        guard try cursor.signature("TREE") else { throw reader.damaged(what, at: address, object: object, "no TREE signature") }
        let found = try cursor.u8("node type")
        level = Int(try cursor.u8("node level"))
        entries = Int(try cursor.u16("entries used"))
        guard found == type else { throw reader.damaged(what, at: address, object: object, "node type \(found) (expected \(type))") }
        if let expectedLevel, level != expectedLevel {
            throw reader.damaged(what, at: address, object: object, "level \(level) below a node of level \(expectedLevel + 1)")
        }
    }
}
