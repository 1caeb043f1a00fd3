/// Immutable, 64-byte aligned storage for prepacked kernel operands.
///
/// Written once by the initializer's closure, then only read, which is what makes sharing it
/// across threads sound. Prepacked matrices hold one of these, so copying a matrix shares its
/// weights and never copies them.
package final class KernelBuffer<Element: BitwiseCopyable>: @unchecked Sendable {
    package let count: Int
    private let base: UnsafeMutablePointer<Element>

    /// Allocates `count` elements (zeroed) and lets `fill` write them.
    package init(count: Int, fill: (UnsafeMutableBufferPointer<Element>) -> Void) {
        precondition(count >= 0)
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Element>.stride, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1) * MemoryLayout<Element>.stride)
        base = raw.bindMemory(to: Element.self, capacity: max(count, 1))
        fill(UnsafeMutableBufferPointer(start: base, count: count))
    }

    /// A copy of `values`.
    package convenience init(_ values: [Element]) {
        self.init(count: values.count) { dst in
            values.withUnsafeBufferPointer { src in
                if let s = src.baseAddress, let d = dst.baseAddress { d.update(from: s, count: src.count) }
            }
        }
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }

    /// Runs `body` with the elements; the pointer is valid only inside `body`.
    @inline(__always)
    package func withUnsafePointer<R>(_ body: (UnsafePointer<Element>) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(UnsafePointer(base)) }
    }

    package var array: [Element] { Array(UnsafeBufferPointer(start: base, count: count)) }
}
