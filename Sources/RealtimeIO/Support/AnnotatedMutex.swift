import CRealtimeIOShims
import Synchronization

/// The standard library's `Mutex` (priority-inheriting on Linux), with its
/// critical sections announced to ThreadSanitizer.
///
/// `Mutex` locks through a futex that ThreadSanitizer cannot see, so in a
/// sanitizer build every access it orders would be reported as a race. Each
/// critical section here acquires and releases a private token address with
/// `__tsan_acquire`/`__tsan_release` — the happens-before edges the lock
/// really provides. Without ThreadSanitizer the two calls are a test of a
/// NULL weak symbol each.
package struct AnnotatedMutex<Value: ~Copyable>: ~Copyable {
    private let mutex: Mutex<Value>
    /// The address ThreadSanitizer synchronises on; owned by this mutex.
    private let token: UnsafeMutableRawPointer

    package init(_ value: consuming sending Value) {
        mutex = Mutex(value)
        token = .allocate(byteCount: 1, alignment: 1)
    }

    deinit { token.deallocate() }

    /// Runs `body` with the lock held (see `Mutex.withLock`).
    @inline(__always)
    package borrowing func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        let token = self.token
        return try mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in
            rtio_tsan_acquire(token)
            defer { rtio_tsan_release(token) }
            return try body(&value)
        }
    }
}

extension AnnotatedMutex: @unchecked Sendable where Value: ~Copyable {}
