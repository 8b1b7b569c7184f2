import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The sleep/wake handshake between one consuming thread and any number of
/// producers — the `IORING_SQ_NEED_WAKEUP` pattern, built on a private futex.
///
/// `ConsumerWakeup` is a non-owning view of one 128-byte line inside memory
/// owned by a ``SubmissionRing``; it lives exactly as long as that ring.
///
/// ## Protocol
/// The word is `awake` (0), `sleeping` (1), or `resting` (2) / `restingServed`
/// (3) during a timed rest — producers treat those as awake: no wake-up.
///
/// Consumer (one thread only):
/// 1. drains its queue, spins up to its budget, then
/// 2. stores `sleeping` with **sequentially consistent** ordering,
/// 3. re-checks its queue with a sequentially consistent load — if anything
///    was published it stores `awake` and goes back to work (a cancelled park),
/// 4. otherwise `futex_wait(word, sleeping)`; the kernel re-checks the word
///    atomically with queueing the waiter, so a wake between 3 and 4 is not lost.
///
/// Producer, after publishing an entry with a sequentially consistent store
/// (or a release store followed by a sequentially consistent fence):
/// 1. loads the word; while it reads `awake` the producer is done — no syscall,
///    no read-modify-write;
/// 2. if `sleeping`, one producer wins a compare-exchange to `awake` and makes
///    the `futex_wake` syscall; losers do nothing.
///
/// ## Why no wake-up is lost
/// The consumer's store of `sleeping` (C2) and its re-check load (C3), and the
/// producer's publish (P0) and its load of the word (P1), are all
/// sequentially consistent, so they appear in one total order. If P1 reads
/// `awake` then P1 precedes C2, hence P0 precedes C3 and the consumer's re-check
/// sees the entry. Otherwise P1 sees `sleeping` and a producer wakes it.
///
/// ## Timed rests
/// ``rest(until:unless:)`` sleeps without announcing a park: the word says
/// `resting`, which producers never wake, so a publish during a rest makes no
/// syscall and the consumer finds the entry when the sleep ends on its own.
/// Use it only for sleeps bounded by a short deadline. A producer may read
/// `resting` (``isResting``) to do a request itself rather than queue it
/// behind the sleep (see ``IOEngine`` "Reads during a rest"): the consumer
/// stores `awake` when the sleep ends, *before* it pops another entry, and
/// its pop publishes `consumedCount` with release, so a producer that sees
/// the ring empty through an acquire load of `consumedCount` and then reads
/// `resting` knows the consumer has taken nothing since that rest began.
/// Such a producer then marks the rest `restingServed` (one compare-exchange
/// per rest, by the first), and ``rest(until:unless:)`` tells the consumer: its
/// queue was quiet, but not for lack of requests — an idle clock (the spin
/// budget) must not run out for a rest whose requests went elsewhere.
///
/// ## Counters
/// `parks` (futex waits entered), `wakes` (returns to work after parking),
/// `rests` (timed rests taken) and `cancelledParks` are written by the
/// consumer only; `wakeSyscalls` by the producer that won the wake. All are
/// relaxed and only for observation.
package struct ConsumerWakeup: @unchecked Sendable {
    @usableFromInline static let awake: UInt32 = 0
    @usableFromInline static let sleeping: UInt32 = 1
    @usableFromInline static let resting: UInt32 = 2
    @usableFromInline static let restingServed: UInt32 = 3

    /// Bytes this view occupies in its owner's memory.
    static let byteCount = CacheLine.separation

    @usableFromInline let state: UnsafeMutablePointer<Atomic<UInt32>>
    @usableFromInline let parkCount: UnsafeMutablePointer<Atomic<Int>>
    @usableFromInline let wakeCount: UnsafeMutablePointer<Atomic<Int>>
    @usableFromInline let wakeSyscallCount: UnsafeMutablePointer<Atomic<Int>>
    @usableFromInline let cancelledParkCount: UnsafeMutablePointer<Atomic<Int>>
    @usableFromInline let restCount: UnsafeMutablePointer<Atomic<Int>>

    /// Binds and initialises the word and counters at `memory` (128 bytes, 8-aligned).
    init(initializing memory: UnsafeMutableRawPointer) {
        state = memory.bindMemory(to: Atomic<UInt32>.self, capacity: 1)
        state.initialize(to: Atomic(Self.awake))
        let counters = (memory + 8).bindMemory(to: Atomic<Int>.self, capacity: 5)
        for i in 0..<5 { (counters + i).initialize(to: Atomic(0)) }
        parkCount = counters
        wakeCount = counters + 1
        wakeSyscallCount = counters + 2
        cancelledParkCount = counters + 3
        restCount = counters + 4
    }

    /// The futex word's address (same memory as `state`).
    @usableFromInline var futexWord: UnsafeMutablePointer<UInt32> {
        UnsafeMutableRawPointer(state).assumingMemoryBound(to: UInt32.self)
    }

    // MARK: consumer side

    /// Step 2: announce the intent to sleep. Follow with a sequentially
    /// consistent re-check of the queue, then ``cancelPark()`` or ``park(timeoutNanoseconds:)``.
    @inlinable
    func prepareToPark() {
        state.pointee.store(Self.sleeping, ordering: .sequentiallyConsistent)
    }

    /// Step 3, work found: back to `awake` without a syscall.
    @inlinable
    func cancelPark() {
        state.pointee.store(Self.awake, ordering: .relaxed)
        cancelledParkCount.pointee.add(1, ordering: .relaxed)
    }

    /// Step 4: sleeps until a producer wakes the consumer, the timeout passes
    /// (< 0: none) or a spurious wake-up. Always returns with the word `awake`;
    /// the caller re-checks its queue.
    @inlinable
    func park(timeoutNanoseconds: Int64 = -1) {
        parkCount.pointee.add(1, ordering: .relaxed)
        while state.pointee.load(ordering: .acquiring) == Self.sleeping {
            let result = Futex.wait(on: futexWord, whileEquals: Self.sleeping, timeoutNanoseconds: timeoutNanoseconds)
            if result == .timedOut || result == .interrupted { break }
        }
        // Harmless if a producer already stored awake; if we left by timeout the
        // word is still sleeping and a concurrent producer may also swap it and
        // make one unneeded wake syscall.
        state.pointee.store(Self.awake, ordering: .relaxed)
        wakeCount.pointee.add(1, ordering: .relaxed)
    }

    /// Step 4 through another sleep: `sleep` waits where a `futex_wake` on
    /// ``futexWord`` ends it (a worker's io_uring with a `FUTEX_WAIT` armed on
    /// the word, ``WorkerIORing``) or something else does. Returns with the
    /// word `awake`, like ``park(timeoutNanoseconds:)``.
    @inlinable
    func park(through sleep: () -> Void) {
        parkCount.pointee.add(1, ordering: .relaxed)
        if state.pointee.load(ordering: .acquiring) == Self.sleeping { sleep() }
        state.pointee.store(Self.awake, ordering: .relaxed)
        wakeCount.pointee.add(1, ordering: .relaxed)
    }

    /// A timed rest: sleeps until `deadline` (`CLOCK_MONOTONIC` ns) without
    /// announcing a park — the word says `resting`, which no producer wakes,
    /// so none makes a syscall for it and none can end it early. Returns early
    /// on a signal; the caller re-checks its queue either way. The word is
    /// `awake` again when this returns. Returns true if a producer served a
    /// request itself during the rest (``noteServedDuringRest()``).
    ///
    /// `unless` re-checks the queue after `resting` is stored (sequentially
    /// consistent, like a park's re-check): a request published while the
    /// consumer was deciding to rest — its producer saw `awake` and queued
    /// it — is served at once instead of after the slice.
    @inlinable
    func rest(until deadline: UInt64, unless workArrived: () -> Bool) -> Bool {
        restCount.pointee.add(1, ordering: .relaxed)
        state.pointee.store(Self.resting, ordering: .sequentiallyConsistent)
        if workArrived() {
            return state.pointee.exchange(Self.awake, ordering: .relaxed) == Self.restingServed
        }
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        _ = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil)
        // Before any pop: the pop's releasing `consumedCount` store orders it (see "Timed rests").
        // An exchange, not a store: a producer's `restingServed` is not lost.
        return state.pointee.exchange(Self.awake, ordering: .relaxed) == Self.restingServed
    }

    // MARK: producer side

    /// After a sequentially consistent publish: wakes the consumer if, and only
    /// if, it announced sleep. Costs one plain load while the consumer is awake.
    @inlinable
    func wakeIfParked() {
        if state.pointee.load(ordering: .sequentiallyConsistent) == Self.sleeping {
            wakeParked()
        }
    }

    /// Unconditional wake (shutdown, or a caller that did its own check).
    @inlinable
    package func wakeParked() {
        if state.pointee.compareExchange(
            expected: Self.sleeping, desired: Self.awake, ordering: .acquiringAndReleasing
        ).exchanged {
            wakeSyscallCount.pointee.add(1, ordering: .relaxed)
            // Every waiter: besides its own futex_wait the consumer may have a
            // FUTEX_WAIT armed in its io_uring (WorkerIORing) that outlived a
            // sleep; waking only that one would leave the thread asleep.
            Futex.wake(futexWord, count: Int32.max)
        }
    }

    // MARK: observation

    /// True while the consumer sleeps in a timed rest (``rest(until:unless:)``).
    /// Relaxed; see "Timed rests" for the order that makes it usable.
    @inlinable
    package var isResting: Bool { state.pointee.load(ordering: .relaxed) >= Self.resting }

    /// ``isResting`` with an acquire load: pairs with the worker's sequentially
    /// consistent `resting` store, so what the worker did before its rest (the
    /// requests it served) happens before what the reader does next.
    @inlinable
    package var isRestingAcquiring: Bool { state.pointee.load(ordering: .acquiring) >= Self.resting }

    /// A producer that served a request itself because the consumer rests:
    /// marks the rest served (the first one per rest; a compare-exchange, so
    /// an `awake` stored meanwhile is never overwritten).
    @inlinable
    package func noteServedDuringRest() {
        if state.pointee.load(ordering: .relaxed) == Self.resting {
            _ = state.pointee.compareExchange(expected: Self.resting, desired: Self.restingServed, ordering: .relaxed)
        }
    }

    /// True while the consumer has announced sleep and not been woken.
    package var isParked: Bool { state.pointee.load(ordering: .relaxed) == Self.sleeping }
    package var parks: Int { parkCount.pointee.load(ordering: .relaxed) }
    package var wakes: Int { wakeCount.pointee.load(ordering: .relaxed) }
    package var wakeSyscalls: Int { wakeSyscallCount.pointee.load(ordering: .relaxed) }
    /// Timed rests taken (``rest(until:unless:)``).
    package var rests: Int { restCount.pointee.load(ordering: .relaxed) }
    /// Sleep announcements withdrawn because the re-check found work. A
    /// producer may still have made one (unneeded) wake syscall for each.
    package var cancelledParks: Int { cancelledParkCount.pointee.load(ordering: .relaxed) }
}
