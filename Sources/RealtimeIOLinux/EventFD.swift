import CRealtimeIOShims
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// EventFD — an `eventfd(2)` counter: `write` adds to it, `read` returns and
/// resets it, and the descriptor is readable (for `poll`/`epoll`) while it is
/// non-zero. The value type owns nothing: ``close()`` it exactly once.
package struct EventFD: Sendable, Hashable {
    /// The descriptor, for `poll`/`epoll` and for handing to C.
    package let rawValue: Int32

    /// Wraps an existing eventfd descriptor.
    package init(rawValue: Int32) { self.rawValue = rawValue }

    /// Creates an eventfd with `initialValue`, close-on-exec, non-blocking unless
    /// `blocking` is true. Throws `EMFILE`/`ENFILE` (out of descriptors) or `ENOMEM`.
    package init(initialValue: UInt32 = 0, blocking: Bool = false) throws(Errno) {
        let flags = Int32(EFD_CLOEXEC) | (blocking ? 0 : Int32(EFD_NONBLOCK))
        rawValue = try retryOnInterrupt { eventfd(initialValue, flags) }.get()
    }

    /// Adds `value` to the counter, waking readers. On a non-blocking eventfd,
    /// `EAGAIN` means the counter would exceed 2^64 - 2.
    package func write(_ value: UInt64 = 1) throws(Errno) {
        var v = value
        _ = try retryOnInterrupt { Glibc.write(rawValue, &v, 8) }.get()
    }

    /// Returns the counter and resets it to 0; `nil` when it is 0 on a non-blocking
    /// eventfd (`EAGAIN`). A blocking eventfd waits for a non-zero counter.
    package func read() throws(Errno) -> UInt64? {
        var v: UInt64 = 0
        switch retryOnInterrupt({ Glibc.read(rawValue, &v, 8) }) {
        case .success: return v
        case .failure(.resourceTemporarilyUnavailable): return nil
        case .failure(let error): throw error
        }
    }

    /// Closes the descriptor (an interrupted close is not retried: the
    /// descriptor is released whatever close returns, see close(2)).
    package func close() {
        _ = Glibc.close(rawValue)
    }
}
