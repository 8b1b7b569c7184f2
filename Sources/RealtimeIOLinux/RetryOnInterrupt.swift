import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Calls `call` — a libc function that fails by returning -1 and setting `errno` —
/// again for as long as it fails with `EINTR`; the package's one EINTR loop.
///
///     let n = try retryOnInterrupt { read(fd, buffer, count) }.get()
///
/// A signal handler installed without `SA_RESTART` makes blocking calls fail
/// with `EINTR` when it runs; nothing was transferred, so calling again is
/// always correct. Other failures are returned as their `Errno`.
@inlinable @inline(__always)
package func retryOnInterrupt<I: FixedWidthInteger>(_ call: () -> I) -> Result<I, Errno> {
    while true {
        let result = call()
        // Read errno first: nothing between the call and this load may run libc.
        let code = errno
        if result != -1 { return .success(result) }
        if code != EINTR { return .failure(Errno(rawValue: code)) }
    }
}

/// Like ``retryOnInterrupt(_:)`` for calls that report failure as a negated error
/// number (raw system calls, the CRealtimeIOShims functions): a result `< 0` is `-errno`.
///
/// A separate name, not an overload: with a trailing closure, an argument label
/// does not take part in overload resolution, and a libc call returning -1
/// would silently be read as `-EPERM`.
@inlinable @inline(__always)
package func retryOnInterruptNegatedErrno<I: FixedWidthInteger & SignedInteger>(_ call: () -> I) -> Result<I, Errno> {
    while true {
        let result = call()
        if result >= 0 { return .success(result) }
        let error = Errno(rawValue: CInt(truncatingIfNeeded: -result))
        if error != .interrupted { return .failure(error) }
    }
}
