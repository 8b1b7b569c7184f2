import CRealtimeIOShims
import Synchronization

/// A counting semaphore on a private futex word, with an optional deadline.
///
/// ## Protocol
/// `tokens` is the futex word. ``post(_:)`` adds tokens (sequentially
/// consistent), then loads `waiters` (sequentially consistent) and makes the
/// `futex_wake` syscall only if someone may be asleep. ``wait(untilNanoseconds:)``
/// takes a token with a compare-exchange; if there is none it increments
/// `waiters` (sequentially consistent) and sleeps while the word is 0. Either
/// the poster's load sees the waiter, or the waiter's increment follows the
/// poster's load in the total order — then the kernel's atomic re-check of the
/// word sees the token. No wake-up is lost.
///
/// Tokens outlive their purpose (a post for an idle worker that has since
/// found work by itself): a later ``wait(untilNanoseconds:)`` returns at once
/// and the caller re-checks its condition. Callers treat a `true` return as
/// "look again", never as "there is work".
package final class FutexSemaphore: @unchecked Sendable {
    private let memory: UnsafeMutableRawPointer
    private let tokens: UnsafeMutablePointer<Atomic<UInt32>>
    private let waiters: UnsafeMutablePointer<Atomic<UInt32>>

    package init() {
        memory = .allocate(byteCount: CacheLine.separation, alignment: CacheLine.separation)
        tokens = memory.bindMemory(to: Atomic<UInt32>.self, capacity: 2)
        tokens.initialize(to: Atomic(0))
        waiters = tokens + 1
        waiters.initialize(to: Atomic(0))
    }

    deinit { memory.deallocate() }

    private var word: UnsafeMutablePointer<UInt32> {
        UnsafeMutableRawPointer(tokens).assumingMemoryBound(to: UInt32.self)
    }

    /// Adds `count` tokens and wakes up to `count` sleepers.
    package func post(_ count: Int = 1) {
        guard count > 0 else { return }
        tokens.pointee.add(UInt32(count), ordering: .sequentiallyConsistent)
        if waiters.pointee.load(ordering: .sequentiallyConsistent) > 0 {
            Futex.wake(word, count: Int32(clamping: count))
        }
    }

    /// Takes one token, sleeping until one is posted or CLOCK_MONOTONIC reaches
    /// `deadline` (nil: no limit). Returns false on timeout.
    package func wait(untilNanoseconds deadline: UInt64?) -> Bool {
        while true {
            var current = tokens.pointee.load(ordering: .acquiring)
            while current > 0 {
                let (taken, observed) = tokens.pointee.compareExchange(
                    expected: current, desired: current - 1, ordering: .acquiringAndReleasing)
                if taken { return true }
                current = observed
            }
            var timeout: Int64 = -1
            if let deadline {
                let now = rtio_monotonic_ns()
                if now >= deadline { return false }
                timeout = Int64(deadline - now)
            }
            waiters.pointee.add(1, ordering: .sequentiallyConsistent)
            _ = Futex.wait(on: word, whileEquals: 0, timeoutNanoseconds: timeout)
            waiters.pointee.subtract(1, ordering: .sequentiallyConsistent)
        }
    }
}
