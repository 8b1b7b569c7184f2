import CRealtimeIOShims

/// Typed wrappers over the private 32-bit futex operations.
///
/// A futex word is any naturally aligned `UInt32` in memory shared by the
/// threads of this process. Callers own the protocol on top of the word; these
/// functions only move threads to and from the kernel's wait queue.
package enum Futex {
    /// The outcome of ``wait(on:whileEquals:timeoutNanoseconds:)``.
    package enum WaitResult: Sendable, Equatable {
        /// Woken by ``wake(_:count:)`` or spuriously; re-check the condition.
        case woken
        /// The word no longer held the expected value: nothing to wait for.
        case valueChanged
        /// The timeout elapsed.
        case timedOut
        /// A signal interrupted the wait; re-check the condition.
        case interrupted
    }

    /// Sleeps while `*word == expected`, at most `timeoutNanoseconds` (< 0: no limit).
    @inlinable
    package static func wait(
        on word: UnsafeMutablePointer<UInt32>, whileEquals expected: UInt32, timeoutNanoseconds: Int64 = -1
    ) -> WaitResult {
        switch rtio_futex_wait(word, expected, timeoutNanoseconds) {
        case 0: return .woken
        case -EAGAIN: return .valueChanged
        case -ETIMEDOUT: return .timedOut
        default: return .interrupted
        }
    }

    /// Wakes up to `count` threads waiting on `word`. Returns how many were woken.
    @inlinable
    @discardableResult
    package static func wake(_ word: UnsafeMutablePointer<UInt32>, count: Int32 = 1) -> Int {
        Int(max(0, rtio_futex_wake(word, count)))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
