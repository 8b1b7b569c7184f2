// The futex word that aio_suspend and lio_listio(LIO_WAIT) sleep on.
import CRealtimeIOShims
import RealtimeIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A generation counter bumped after every completion, with the count of
/// threads asleep on it.
///
/// Waiters do not sleep on one request: they load the generation, check the
/// aiocbs they wait for, and sleep until the generation moves.
///
/// ## Protocol
/// - The completer publishes the aiocb's final error code (release), then
///   ``advance()``: adds 1 to the generation (sequentially consistent), loads
///   `waiters` (sequentially consistent) and makes the `futex_wake` syscall
///   only if someone may be asleep.
/// - A waiter loads ``current`` (sequentially consistent) *before* it checks
///   its aiocbs (acquire), then ``wait(seen:deadline:)`` increments `waiters`
///   (sequentially consistent) and sleeps while the word still holds `seen`.
/// - If the waiter's `seen` includes a completion's add, that completion's
///   error code is visible to its check (the add follows the release store).
///   Otherwise either the completer's `waiters` load sees the waiter and wakes
///   it, or the increment follows that load in the total order — and then the
///   kernel's atomic re-check of the word sees the add. No wake-up is lost.
///
/// ## Ownership
/// The generation is written by completers only (any worker, concurrently);
/// `waiters` by waiters only. They sit on separate cache lines.
final class CompletionGeneration: @unchecked Sendable {
    private let storage: CacheAlignedStorage
    private let generation: UnsafeMutablePointer<Atomic<UInt32>>
    private let waiters: UnsafeMutablePointer<Atomic<Int>>

    init() {
        var layout = CacheLineLayout()
        let generationAt = layout.reserve(Atomic<UInt32>.self)
        let waitersAt = layout.reserve(Atomic<Int>.self)
        storage = CacheAlignedStorage(byteCount: layout.byteCount)
        generation = storage.initialize(Atomic<UInt32>(0), at: generationAt)
        waiters = storage.initialize(Atomic<Int>(0), at: waitersAt)
    }

    /// The generation as the futex word.
    private var futexWord: UnsafeMutablePointer<UInt32> {
        UnsafeMutableRawPointer(generation).assumingMemoryBound(to: UInt32.self)
    }

    /// Completer: moves the generation and wakes every sleeper, if any.
    @inline(__always)
    func advance() {
        generation.pointee.add(1, ordering: .sequentiallyConsistent)
        if waiters.pointee.load(ordering: .sequentiallyConsistent) > 0 {
            _ = rtio_futex_wake(futexWord, Int32.max)
        }
    }

    /// Waiter: the generation to pass to ``wait(seen:deadline:)``, loaded before
    /// checking the aiocbs.
    var current: UInt32 {
        generation.pointee.load(ordering: .sequentiallyConsistent)
    }

    /// Sleeps until the generation moves past `seen` or `deadline` (monotonic
    /// ns; 0 = forever). Returns 0 (look again), EAGAIN (the deadline passed;
    /// POSIX's code for an aio_suspend timeout) or EINTR.
    func wait(seen: UInt32, deadline: UInt64) -> Int32 {
        var timeout: Int64 = -1
        if deadline != 0 {
            let now = rtio_monotonic_ns()
            if now >= deadline { return EAGAIN }
            timeout = Int64(clamping: deadline - now)
        }
        waiters.pointee.add(1, ordering: .sequentiallyConsistent)
        let rc = rtio_futex_wait(futexWord, seen, timeout)
        waiters.pointee.subtract(1, ordering: .sequentiallyConsistent)
        if rc == -EINTR { return EINTR }
        if rc == -ETIMEDOUT { return EAGAIN }
        return 0
    }
}
