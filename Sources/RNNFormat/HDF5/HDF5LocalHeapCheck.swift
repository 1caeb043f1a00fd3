#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Refuses local heaps whose free list libhdf5 1.10 would follow forever or past the heap's end.
///
/// Old-style groups (h5py's default) keep link names in a local heap ("HEAP", HDF5 File Format
/// Specification, "Local Heap"). libhdf5 1.10's `H5HL__fl_deserialize` follows the heap's free
/// list without remembering where it has been: a free block pointing to itself makes it allocate
/// 32 bytes per step until the process runs out of memory (found by tools/fuzz.sh hdf5;
/// fixtures/hostile/regressions/hdf5-local-heap-free-list-loop.h5). It also reads a free block's
/// two length fields without checking they lie inside the heap. Neither can be caught through
/// the library's API, so every heap the library could load is checked here first: libhdf5 only
/// loads a heap whose bytes start with "HEAP", so all such places in the file are visited.
enum HDF5LocalHeapCheck {
    /// libhdf5's end-of-free-list marker (`H5HL_FREE_NULL`).
    private static let freeListEnd: UInt64 = 1

    /// - Throws: `.malformed` naming the heap's offset when its free list loops or runs past the
    ///   heap; `.io` when the file cannot be read.
    static func check(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw RNNFormatError(.io, file: path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw RNNFormatError(.io, file: path, "cannot stat: \(String(cString: strerror(errno)))") }
        let size = Int(info.st_size)
        let read = { (offset: Int, count: Int) -> [UInt8] in
            var buffer = [UInt8](repeating: 0, count: count)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return n > 0 ? Array(buffer.prefix(n)) : []
        }
        guard let superblock = HDF5Superblock.locate(size: size, read: read) else { return }
        let tag: [UInt8] = Array("HEAP".utf8)
        let chunk = 1 << 20
        var offset = superblock.start
        while offset < size {
            let bytes = read(offset, min(chunk, size - offset))
            guard bytes.count >= tag.count else { break }
            var found: [Int] = []
            bytes.withUnsafeBytes { haystack in
                guard let base = haystack.baseAddress else { return }
                var from = 0
                // memchr jumps to each candidate first byte; the rest is compared in place.
                while from + tag.count <= haystack.count, let hit = memchr(base + from, Int32(tag[0]), haystack.count - from) {
                    let index = base.distance(to: UnsafeRawPointer(hit))
                    if index + tag.count <= haystack.count && (1..<tag.count).allSatisfy({ haystack[index + $0] == tag[$0] }) {
                        found.append(index)
                    }
                    from = index + 1
                }
            }
            for index in found {
                try checkHeap(at: offset + index, superblock: superblock, fileSize: size, read: read, path: path)
            }
            if bytes.count < chunk { break }
            // Overlap chunks by the tag's length less one, so no tag is split unseen.
            offset += bytes.count - (tag.count - 1)
        }
    }

    /// Checks the heap whose "HEAP" tag sits at `at`, the way `H5HL__fl_deserialize` will walk it.
    private static func checkHeap(
        at position: Int, superblock: HDF5Superblock.Location, fileSize: Int,
        read: (Int, Int) -> [UInt8], path: String
    ) throws {
        let lengthSize = superblock.lengthSize, offsetSize = superblock.offsetSize
        let header = read(position, 8 + 2 * lengthSize + offsetSize)
        // libhdf5 refuses other versions and short headers itself.
        guard header.count == 8 + 2 * lengthSize + offsetSize, header[4] == 0 else { return }
        func integer(_ bytes: ArraySlice<UInt8>) -> UInt64 {
            bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        let dataSize = integer(header[8..<(8 + lengthSize)])
        var free = integer(header[(8 + lengthSize)..<(8 + 2 * lengthSize)])
        let dataAddress = integer(header[(8 + 2 * lengthSize)...])
        // A heap whose data lies outside the file is refused by libhdf5 when it reads it.
        guard dataAddress < UInt64(fileSize), dataSize <= UInt64(fileSize),
              UInt64(superblock.start) + dataAddress + dataSize <= UInt64(fileSize) else { return }
        let data = superblock.start + Int(dataAddress)
        func malformed(_ message: String) -> RNNFormatError {
            RNNFormatError(.malformed, file: path, "local heap at byte \(position): \(message)")
        }
        var visited = Set<UInt64>()
        while free != freeListEnd {
            guard free < dataSize else { return }  // libhdf5: "bad heap free list"
            guard free + UInt64(2 * lengthSize) <= dataSize else {
                throw malformed("free block at \(free) ends beyond the heap's \(dataSize) bytes")
            }
            guard visited.insert(free).inserted else {
                throw malformed("free list loops back to offset \(free)")
            }
            let block = read(data + Int(free), 2 * lengthSize)
            guard block.count == 2 * lengthSize else { return }
            let next = integer(block[0..<lengthSize])
            let blockSize = integer(block[lengthSize...])
            // libhdf5 refuses these itself.
            guard next != 0, blockSize <= dataSize, free + blockSize <= dataSize else { return }
            free = next
        }
    }
}
