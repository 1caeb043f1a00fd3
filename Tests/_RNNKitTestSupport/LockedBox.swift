import Foundation

/// A lock-protected value shared by concurrent work in tests (Synchronization's `Atomic` and
/// `Mutex` need macOS 15 / iOS 18, newer than the package declares).
public final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
