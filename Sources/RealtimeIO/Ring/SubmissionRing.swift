import CRealtimeIOShims
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A bounded, preallocated, lock-free queue of 64-bit entries with many
/// producers and one consumer, and a futex-based park/wake for the consumer.
///
/// This is the submission path of RealtimeIO: host threads push request-slot
/// indices, one worker drains them. Pushing to an awake consumer takes no lock,
/// allocates nothing and makes no syscall.
///
/// ## Algorithm
/// D. Vyukov's bounded MPMC queue specialised to one consumer. Each cell holds
/// a sequence number and a payload. For the cell of position `p`:
/// - `sequence == p`: free for the producer that claims `p`;
/// - `sequence == p + 1`: published, ready for the consumer;
/// - `sequence == p + capacity`: consumed, free for position `p + capacity`.
///
/// Producers claim positions by compare-exchange on `enqueuePosition` (never
/// past a cell that is not free, so a full ring is a clean `false`, not a wait),
/// write the payload, then publish by storing `p + 1` into the cell's sequence.
///
/// ## Memory ordering — which operation pairs with which
/// - Producer publish (`sequence = p + 1`, release or stronger) pairs with the
///   consumer's acquire load of that sequence: the payload is visible before
///   the consumer reads it.
/// - Consumer release (`sequence = p + capacity`) pairs with the acquire load a
///   producer does before claiming position `p + capacity`: the consumer's read
///   of the old payload happens before the new payload is written.
/// - Publish (sequentially consistent) pairs with ``ConsumerWakeup``'s
///   sequentially consistent `sleeping` store and re-check; see that type.
///
/// ## Ownership
/// - `enqueuePosition`: shared by producers (CAS).
/// - `dequeuePosition`: the consumer's alone; producers never read it.
/// - `consumedCount`, the service mark (``markServiceStarted(at:)``) and the
///   count of requests in the consumer's own io_uring
///   (``setRequestsInKernel(_:)``): the consumer writes them, anyone reads
///   them. They share the consumer's cache line with `dequeuePosition`, so a
///   producer that reads ``approximateCount``, ``serviceStartedAt`` and
///   ``requestsInKernel`` reads two lines, as it read for the count alone.
/// - A cell between claim and publish belongs to its claiming producer; between
///   publish and release, to the consumer.
/// - Only one thread at a time may call the consumer methods (`tryPop`,
///   `drain`, `waitForEntries`); any thread may call the producer methods.
///
/// ## Hazard: a producer stopped between claim and publish
/// A preempted low-priority producer leaves its claimed cell unpublished and
/// the consumer cannot pass it (entries are consumed in claim order). The
/// consumer never spins on it without bound: ``waitForEntries(spinNanoseconds:timeoutNanoseconds:)``
/// spins for its budget, then parks; the late publish wakes it through the
/// same handshake as any other publish.
package final class SubmissionRing: @unchecked Sendable {
    /// Number of cells; a power of two.
    package let capacity: Int
    @usableFromInline let mask: Int

    private let memory: CacheAlignedStorage
    @usableFromInline let enqueuePosition: UnsafeMutablePointer<Atomic<Int>>
    @usableFromInline let dequeuePosition: UnsafeMutablePointer<Int>
    @usableFromInline let consumedCount: UnsafeMutablePointer<Atomic<Int>>
    @usableFromInline let serviceStart: UnsafeMutablePointer<Atomic<UInt64>>
    @usableFromInline let inKernel: UnsafeMutablePointer<Atomic<Int>>
    @usableFromInline let cells: UnsafeMutablePointer<Cell>
    /// The consumer's park/wake handshake.
    package let wakeup: ConsumerWakeup

    /// One queue cell: 16 bytes, four to a cache line.
    @usableFromInline
    struct Cell: ~Copyable {
        @usableFromInline let sequence: Atomic<Int>
        /// Written by the claiming producer, read by the consumer; relaxed,
        /// ordered by `sequence`.
        @usableFromInline let payload: Atomic<UInt64>
        init(position: Int) {
            sequence = Atomic(position)
            payload = Atomic(0)
        }
    }

    /// Allocates and touches (prefaults) all memory of a ring of `capacity`
    /// cells: a power of two within ``EngineConfiguration/Limits/ringCapacity``.
    package init(capacity: Int) throws(ConfigurationError) {
        try EngineConfiguration.checkRingCapacity(capacity)
        self.capacity = capacity
        self.mask = capacity - 1
        let line = CacheLine.separation
        memory = CacheAlignedStorage(byteCount: Self.storageByteCount(capacity: capacity))
        enqueuePosition = memory.initialize(Atomic<Int>(0), at: 0)
        dequeuePosition = memory.initialize(0, at: line)
        consumedCount = memory.initialize(Atomic<Int>(0), at: line + 8)
        serviceStart = memory.initialize(Atomic<UInt64>(0), at: line + 16)
        inKernel = memory.initialize(Atomic<Int>(0), at: line + 24)
        wakeup = ConsumerWakeup(initializing: memory.line(2))
        cells = memory.line(3).bindMemory(to: Cell.self, capacity: capacity)
        for i in 0..<capacity {
            (cells + i).initialize(to: Cell(position: i))
        }
    }

    deinit {
        cells.deinitialize(count: capacity)
    }

    /// Bytes a ring of `capacity` cells asks ``CacheAlignedStorage`` for: three
    /// lines (positions, consumer, wake-up) and the cells.
    package static func storageByteCount(capacity: Int) -> Int {
        3 * CacheLine.separation + capacity * MemoryLayout<Cell>.stride
    }

    // MARK: producers

    /// Pushes one entry. Returns false, changing nothing, when the ring is full.
    /// Wakes the consumer if it is parked (the only case with a syscall).
    @inlinable
    package func tryPush(_ value: UInt64) -> Bool {
        var position = enqueuePosition.pointee.load(ordering: .relaxed)
        while true {
            let cell = cells + (position & mask)
            let difference = cell.pointee.sequence.load(ordering: .acquiring) &- position
            if difference == 0 {
                let (exchanged, current) = enqueuePosition.pointee.compareExchange(
                    expected: position, desired: position &+ 1, ordering: .relaxed)
                if exchanged {
                    cell.pointee.payload.store(value, ordering: .relaxed)
                    cell.pointee.sequence.store(position &+ 1, ordering: .sequentiallyConsistent)
                    wakeup.wakeIfParked()
                    return true
                }
                position = current
            } else if difference < 0 {
                return false  // the cell still holds the previous lap's entry: full
            } else {
                position = enqueuePosition.pointee.load(ordering: .relaxed)
            }
        }
    }

    /// A run of consecutive positions claimed by one producer; publish each
    /// with ``publish(_:at:_:)``, then call ``finishPublishing(_:)`` once.
    package struct Claim: Sendable {
        package let start: Int
        package let count: Int
        @inlinable init(start: Int, count: Int) {
            self.start = start
            self.count = count
        }
    }

    /// Claims `count` consecutive cells with one atomic operation, or none:
    /// returns nil when fewer than `count` cells are free.
    ///
    /// The consumer frees cells in order, so if the last cell of the run is
    /// free for this lap, every earlier one is too.
    @inlinable
    package func tryClaim(_ count: Int) -> Claim? {
        precondition(count >= 1 && count <= capacity, "claim of \(count) cells from a ring of \(capacity)")
        var position = enqueuePosition.pointee.load(ordering: .relaxed)
        while true {
            let last = position &+ count &- 1
            let difference = cells[last & mask].sequence.load(ordering: .acquiring) &- last
            if difference == 0 {
                let (exchanged, current) = enqueuePosition.pointee.compareExchange(
                    expected: position, desired: position &+ count, ordering: .relaxed)
                if exchanged { return Claim(start: position, count: count) }
                position = current
            } else if difference < 0 {
                return nil
            } else {
                position = enqueuePosition.pointee.load(ordering: .relaxed)
            }
        }
    }

    /// Publishes entry `index` (0..<claim.count) of a claim. The consumer may
    /// take it at once; entries are consumed in position order.
    @inlinable
    package func publish(_ claim: Claim, at index: Int, _ value: UInt64) {
        precondition(index >= 0 && index < claim.count)
        let position = claim.start &+ index
        let cell = cells + (position & mask)
        cell.pointee.payload.store(value, ordering: .relaxed)
        cell.pointee.sequence.store(position &+ 1, ordering: .releasing)
    }

    /// After the last ``publish(_:at:_:)`` of a claim: a sequentially consistent
    /// fence (pairs with the consumer's `sleeping` store, see ``ConsumerWakeup``),
    /// then a wake only if the consumer is parked.
    @inlinable
    package func finishPublishing(_ claim: Claim) {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        wakeup.wakeIfParked()
    }

    // MARK: consumer (one thread at a time)

    /// Takes the oldest published entry, or nil if none is ready.
    @inlinable
    package func tryPop() -> UInt64? {
        let position = dequeuePosition.pointee
        let cell = cells + (position & mask)
        guard cell.pointee.sequence.load(ordering: .acquiring) == position &+ 1 else { return nil }
        let value = cell.pointee.payload.load(ordering: .relaxed)
        cell.pointee.sequence.store(position &+ capacity, ordering: .releasing)
        dequeuePosition.pointee = position &+ 1
        // Release: orders the end of a timed rest (`awake`) before it (ConsumerWakeup "Timed rests").
        consumedCount.pointee.store(position &+ 1, ordering: .releasing)
        return value
    }

    /// Takes up to `maximum` published entries in order, calling `body` for
    /// each; returns how many were taken.
    @inlinable
    package func drain(maximum: Int, _ body: (UInt64) throws -> Void) rethrows -> Int {
        var taken = 0
        while taken < maximum, let value = tryPop() {
            taken &+= 1
            try body(value)
        }
        return taken
    }

    /// True if the entry at the consumer's position is published (sequentially
    /// consistent: this is the re-check of the park handshake).
    @inlinable
    func hasPublishedEntry() -> Bool {
        let position = dequeuePosition.pointee
        return cells[position & mask].sequence.load(ordering: .sequentiallyConsistent) == position &+ 1
    }

    /// Waits until an entry is ready: spins (with a CPU pause hint) up to
    /// `spinNanoseconds`, then parks on the futex, for at most
    /// `timeoutNanoseconds` in all (< 0: no limit). Returns true if an entry is
    /// ready, false on timeout or when `shouldStop` returns true.
    ///
    /// A wake-up does not always mean the head entry is ready: a later
    /// position may have been published while the head's producer is still
    /// between claim and publish. Then the consumer parks again; that
    /// producer's publish wakes it.
    @inlinable
    package func waitForEntries(
        spinNanoseconds: Int64, timeoutNanoseconds: Int64 = -1, shouldStop: () -> Bool = { false },
        willPark: () -> Void = {}
    ) -> Bool {
        if hasPublishedEntry() { return true }
        let start = rtio_monotonic_ns()
        if spinNanoseconds > 0 {
            let spinDeadline = start &+ UInt64(spinNanoseconds)
            while true {
                for _ in 0..<32 {
                    rtio_cpu_relax()
                    if hasPublishedEntryRelaxed() { return true }
                }
                if rtio_monotonic_ns() >= spinDeadline || shouldStop() { break }
            }
        }
        while true {
            if shouldStop() { return hasPublishedEntry() }
            var remaining: Int64 = -1
            if timeoutNanoseconds >= 0 {
                let elapsed = Int64(rtio_monotonic_ns() &- start)
                if elapsed >= timeoutNanoseconds { return hasPublishedEntry() }
                remaining = timeoutNanoseconds - elapsed
            }
            wakeup.prepareToPark()
            if hasPublishedEntry() || shouldStop() {
                wakeup.cancelPark()
                return hasPublishedEntry()
            }
            willPark()
            wakeup.park(timeoutNanoseconds: remaining)
            if hasPublishedEntry() { return true }
        }
    }

    @inlinable
    func hasPublishedEntryRelaxed() -> Bool {
        let position = dequeuePosition.pointee
        return cells[position & mask].sequence.load(ordering: .relaxed) == position &+ 1
    }

    // MARK: observation (any thread; approximate while producers run)

    /// Entries claimed and not yet consumed (includes claimed-but-unpublished).
    package var approximateCount: Int {
        max(0, enqueuePosition.pointee.load(ordering: .relaxed) &- consumedCount.pointee.load(ordering: .relaxed))
    }

    /// True if the consumer sleeps in a timed rest with nothing queued for it
    /// that this thread can see: every entry this thread pushed was taken, and
    /// no other producer's claim is visible. A producer's request then would
    /// wait for the rest to end. Costs the consumer's line and the producers'
    /// line (the same two as ``approximateCount``) and the wake-up line.
    @inlinable
    package var restsWithNothingQueued: Bool {
        // Pre-filter on the wake-up line (read by every push anyway): a busy worker's
        // consumer line is not touched. Then, in this order, what the argument needs.
        guard wakeup.isResting else { return false }
        let consumed = consumedCount.pointee.load(ordering: .acquiring)
        return enqueuePosition.pointee.load(ordering: .relaxed) == consumed && wakeup.isRestingAcquiring
    }

    /// When the consumer started serving the entry it took last (a
    /// `CLOCK_MONOTONIC` reading in ns), or 0 while it serves nothing.
    ///
    /// Advisory, for placement: relaxed, and no part of the ring's protocol
    /// (exactly-once, order and park/wake never read it). Between a pop and
    /// its mark, the entry just taken is counted neither here nor in
    /// ``approximateCount``.
    @inlinable
    package var serviceStartedAt: UInt64 {
        serviceStart.pointee.load(ordering: .relaxed)
    }

    /// Requests the consumer has moved into its own io_uring and not yet
    /// completed (a worker with ``EngineConfiguration/WorkerGroup/inFlight``
    /// above 1; always 0 otherwise). Advisory, for placement, like
    /// ``serviceStartedAt``: such a worker has taken them off its queue but is
    /// not idle.
    @inlinable
    package var requestsInKernel: Int {
        inKernel.pointee.load(ordering: .relaxed)
    }

    // MARK: consumer annotations (the consumer thread only)

    /// Publishes how many requests the consumer holds in its io_uring. One
    /// relaxed store to the consumer's own line; callers store only changes.
    @inlinable
    package func setRequestsInKernel(_ count: Int) {
        inKernel.pointee.store(count, ordering: .relaxed)
    }

    /// Marks the entry just taken as in service since `now` (non-zero).
    /// One relaxed store to the consumer's own line, which `tryPop` has just
    /// written.
    @inlinable
    package func markServiceStarted(at now: UInt64) {
        serviceStart.pointee.store(now, ordering: .relaxed)
    }

    /// Marks the consumer as serving nothing.
    @inlinable
    package func markServiceEnded() {
        serviceStart.pointee.store(0, ordering: .relaxed)
    }
}
