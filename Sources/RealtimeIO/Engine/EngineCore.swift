import CRealtimeIOShims
import Synchronization

#if canImport(Glibc)
import Glibc
import RealtimeIOLinux
#endif

/// State shared by the host-facing ``IOEngine`` and its workers.
///
/// ## Cache-line layout of the shared words (one 128-byte line each)
/// - `gate`: submitters in flight ×2, plus bit 0 "closed". Every submit adds 2
///   before touching a ring and subtracts 2 after; shutdown sets bit 0 and waits
///   for the value to drop to 1, after which no producer is between claim and
///   publish — so an empty ring really is empty and no accepted request is lost.
/// - `hostNotified`: the coalescing flag of the completion eventfd (see
///   ``notifyHost()`` and ``rearmHostNotification(_:)``).
/// - `lifecycle` (with `gateEvents`, written only by a shutdown): the engine's
///   ``Lifecycle``, read by workers on every loop turn, sequentially
///   consistent with their park handshake so a stop is never missed by a
///   parked worker. Read-mostly: it stays in every worker's cache.
/// - `reaping`: the one-reaper-at-a-time flag, written twice per `reap`. On
///   its own line so a reap does not steal the line workers read each turn.
final class EngineCore: @unchecked Sendable {
    /// The engine's life, one atomic word.
    ///
    /// ```
    /// running ─▶ stopping ─▶ draining ───┐
    ///                    └─▶ cancelling ─┴─ workers joined ─▶ closed
    /// ```
    /// Only ``IOEngine/shutdown(_:)`` (or a failed init) moves it, and only the
    /// caller that wins `running → stopping` performs the shutdown. Workers
    /// stop only at `draining`/`cancelling`, which is stored *after* the submit
    /// gate has emptied: a worker that sees the stop and an empty ring knows no
    /// submitter is still between claim and publish.
    enum Lifecycle: UInt32, AtomicRepresentable {
        /// Accepting requests.
        case running
        /// A shutdown is closing the submit gate; workers run on.
        case stopping
        /// Workers finish every queued request, then exit.
        case draining
        /// Workers complete queued requests with ECANCELED, then exit.
        case cancelling
        /// Every worker joined and the eventfd closed; completions still in the rings stay reapable.
        case closed
    }

    let slab: RequestSlab
    /// `slab` without reference counting, for the I/O path (submit, worker,
    /// reap): `core.slab.acquire()` retains and releases the slab around the
    /// call (a shared line's atomic read-modify-write twice per request);
    /// `slabRef._withUnsafeGuaranteedRef { $0.acquire() }` does not. Valid as
    /// long as this core lives (it holds `slab`).
    let slabRef: Unmanaged<RequestSlab>
    let eventFD: Int32
    let spinBudgetNanoseconds: Int64
    /// Real-time allowance per ``RealtimeShare/windowNanoseconds`` window (``EngineConfiguration/realtimeSharePercent``).
    let realtimeAllowanceNanoseconds: Int64
    let realtimeShareRest: EngineConfiguration.RealtimeShareRest
    /// ``EngineConfiguration/CompletionDelivery/workerHandler(_:)``'s handler; nil: completion rings.
    /// Longest timed sleep of a ``EngineConfiguration/RealtimeShareRest/slices`` rest.
    let realtimeShareRestSliceNanoseconds: Int64
    let handler: (@Sendable (IOCompletion) -> Void)?
    let workerStartHook: WorkerStartHook?
    /// Completions of cancelled requests waiting for reap (`eventfd` delivery).
    let postedCompletions = PostedCompletions()
    /// ``postedCompletions`` unretained, for the reap path (see ``slabRef``).
    let postedRef: Unmanaged<PostedCompletions>
    /// Per worker: reads submitters ran themselves during its rests
    /// (``IOEngine/readDuringRest(_:_:ring:worker:)``), counted when reaped.
    /// Written only by the reaper (one at a time, `reaping`): a load and a
    /// store, no read-modify-write, on lines no submitter or worker writes.
    private let submitterReadsStorage: CacheAlignedStorage
    private let submitterReads: UnsafeMutablePointer<Atomic<Int>>
    private let submitterReadsCount: Int

    /// Lines of shared words (see the layout above; ``EngineFootprint`` counts them).
    static let sharedLineCount = 4
    private let storage: CacheAlignedStorage
    private let eventFDClosed = Atomic<Bool>(false)
    let gate: UnsafeMutablePointer<Atomic<Int>>
    let hostNotified: UnsafeMutablePointer<Atomic<Bool>>
    let lifecycle: UnsafeMutablePointer<Atomic<Lifecycle>>
    let reaping: UnsafeMutablePointer<Atomic<Bool>>
    /// Futex word: bumped by the last submitter to leave a closed gate.
    let gateEvents: UnsafeMutablePointer<Atomic<UInt32>>

    init(
        slab: RequestSlab, eventFD: Int32, spinBudget: Duration, realtimeSharePercent: Int = 100,
        realtimeShareRest: EngineConfiguration.RealtimeShareRest = .slices,
        realtimeShareRestSlice: Duration = .microseconds(10),
        handler: (@Sendable (IOCompletion) -> Void)?, workerStartHook: WorkerStartHook?, workerCount: Int = 0
    ) {
        self.slab = slab
        submitterReadsCount = max(1, workerCount)
        submitterReadsStorage = CacheAlignedStorage(byteCount: submitterReadsCount * MemoryLayout<Atomic<Int>>.stride)
        submitterReads = submitterReadsStorage.base.bindMemory(to: Atomic<Int>.self, capacity: submitterReadsCount)
        for i in 0..<submitterReadsCount { (submitterReads + i).initialize(to: Atomic(0)) }
        self.postedRef = Unmanaged.passUnretained(postedCompletions)
        self.slabRef = Unmanaged.passUnretained(slab)
        self.eventFD = eventFD
        self.spinBudgetNanoseconds = spinBudget.nanoseconds
        self.realtimeAllowanceNanoseconds = RealtimeShare.windowNanoseconds * Int64(realtimeSharePercent) / 100
        self.realtimeShareRest = realtimeShareRest
        self.realtimeShareRestSliceNanoseconds = realtimeShareRestSlice.nanoseconds
        self.handler = handler
        self.workerStartHook = workerStartHook
        let line = CacheLine.separation
        storage = CacheAlignedStorage(lines: Self.sharedLineCount)
        gate = storage.initialize(Atomic<Int>(0), at: 0)
        hostNotified = storage.initialize(Atomic<Bool>(false), at: line)
        lifecycle = storage.initialize(Atomic<Lifecycle>(.running), at: 2 * line)
        gateEvents = storage.initialize(Atomic<UInt32>(0), at: 2 * line + 8)
        reaping = storage.initialize(Atomic<Bool>(false), at: 3 * line)
    }

    // MARK: submit gate

    /// Enters the submit path; false once the engine is closed.
    @inline(__always) func enterSubmit() -> Bool {
        if gate.pointee.add(2, ordering: .acquiringAndReleasing).newValue & 1 != 0 {
            leaveSubmit()
            return false
        }
        return true
    }

    /// Leaves the submit path. The last submitter to leave a closed gate wakes
    /// the shutdown waiting in ``closeGate()`` (the only case with a syscall).
    @inline(__always) func leaveSubmit() {
        if gate.pointee.subtract(2, ordering: .releasing).newValue == 1,
           lifecycle.pointee.load(ordering: .sequentiallyConsistent) == .stopping {
            // Only a shutdown still in closeGate() (state `stopping`) can be waiting: a
            // submit refused long after shutdown makes no syscall.
            gateEvents.pointee.add(1, ordering: .sequentiallyConsistent)
            Futex.wake(gateEventsWord, count: 1)
        }
    }

    /// Closes the gate and sleeps until no submitter is inside. Returns the
    /// number of futex waits it made. Call only in state `stopping` (after
    /// ``claimShutdown()``).
    ///
    /// It sleeps rather than yields: a shutdown called from a SCHED_FIFO
    /// thread must let a lower-priority submitter that was preempted inside
    /// the gate on the same CPU run to its exit (`sched_yield` never yields to
    /// a lower priority). Event-count handshake: the closer reads `gateEvents`,
    /// re-checks the gate, and waits only while `gateEvents` is unchanged; the
    /// last leaver changes `gateEvents` before it wakes, so the wake is never lost.
    @discardableResult
    func closeGate() -> Int {
        // Leavers wake the closer only in `stopping` (see leaveSubmit): closing in another
        // state could sleep forever.
        precondition(lifecycle.pointee.load(ordering: .sequentiallyConsistent) == .stopping, "closeGate outside stopping")
        gate.pointee.bitwiseOr(1, ordering: .acquiringAndReleasing)
        var waits = 0
        while true {
            let seen = gateEvents.pointee.load(ordering: .sequentiallyConsistent)
            if gate.pointee.load(ordering: .acquiring) == 1 { return waits }
            _ = Futex.wait(on: gateEventsWord, whileEquals: seen)
            waits += 1
        }
    }

    var isClosed: Bool { gate.pointee.load(ordering: .acquiring) & 1 != 0 }

    // MARK: lifecycle

    /// Workers: leave once the ring is empty.
    @inline(__always) var stopRequested: Bool {
        lifecycle.pointee.load(ordering: .sequentiallyConsistent).rawValue >= Lifecycle.draining.rawValue
    }

    /// Workers: complete queued requests with ECANCELED instead of running them.
    @inline(__always) var cancelQueued: Bool {
        lifecycle.pointee.load(ordering: .relaxed) == .cancelling
    }

    /// `running → stopping`. True for the one caller that did it; it must then
    /// close the gate and call ``stopWorkers(_:)``.
    func claimShutdown() -> Bool {
        lifecycle.pointee.compareExchange(expected: .running, desired: .stopping, ordering: .sequentiallyConsistent).exchanged
    }

    /// `stopping → draining/cancelling`, after ``closeGate()`` returned. The
    /// caller then wakes every parked worker.
    func stopWorkers(_ mode: ShutdownMode) {
        lifecycle.pointee.store(mode == .drain ? .draining : .cancelling, ordering: .sequentiallyConsistent)
    }

    /// After every worker joined: wakes every concurrent ``waitUntilClosed()``.
    func markClosed() {
        lifecycle.pointee.store(.closed, ordering: .sequentiallyConsistent)
        Futex.wake(lifecycleWord, count: Int32.max)
    }

    /// For a shutdown that lost the race to another: sleeps until the winner
    /// has joined every worker (each caller returns only after that).
    func waitUntilClosed() {
        while true {
            let state = lifecycle.pointee.load(ordering: .sequentiallyConsistent)
            if state == .closed { return }
            _ = Futex.wait(on: lifecycleWord, whileEquals: state.rawValue)
        }
    }

    /// Closes the eventfd once, whoever asks first (a failed init, or the engine's deinit).
    func closeEventFD() {
        if !eventFDClosed.exchange(true, ordering: .acquiringAndReleasing) { close(eventFD) }
    }

    private var lifecycleWord: UnsafeMutablePointer<UInt32> {
        UnsafeMutableRawPointer(lifecycle).assumingMemoryBound(to: UInt32.self)
    }

    private var gateEventsWord: UnsafeMutablePointer<UInt32> {
        UnsafeMutableRawPointer(gateEvents).assumingMemoryBound(to: UInt32.self)
    }

    // MARK: completion delivery

    /// Hands a finished request (result stored in its record) to whoever waits
    /// for it directly: resumes an async caller's continuation or runs the
    /// worker handler, and frees the slot. Returns false when neither applies
    /// (`eventfd` delivery): the caller then posts the slot to its completion
    /// ring or queue and announces it (``notifyHost()``). Shared by
    /// preallocated and on-demand workers; no closure, so no reference count
    /// of the caller's ring is touched per request.
    @inline(__always)
    func deliverDirectly(_ slot: UInt32, worker: Int?) -> Bool {
        slabRef._withUnsafeGuaranteedRef { deliverDirectly(slot, worker: worker, slab: $0) }
    }

    @inline(__always)
    private func deliverDirectly(_ slot: UInt32, worker: Int?, slab: RequestSlab) -> Bool {
        let record = slab.record(slot)
        if record.pointee.flags & RequestFlags.resumesContinuation != 0 {
            let box = record.pointee.continuation!
            let result = record.pointee.result
            record.pointee.continuation = nil
            slab.release(slot)
            ContinuationBox.resume(box, result: result)
            return true
        }
        guard let handler else { return false }
        let completion = IOCompletion(tag: record.pointee.tag, result: record.pointee.result, worker: worker)
        slab.release(slot)
        handler(completion)
        return true
    }

    // MARK: completion notification

    // The eventfd is written at most once per re-arm: `hostNotified` says "a
    // write is done or on its way since the host last re-armed". Invariant the
    // two sides keep: whenever the flag is set, the counter is non-zero or the
    // write that will make it so has not happened yet — never "set, and the
    // write already consumed". Otherwise every later notification is skipped
    // and a host asleep on the fd never wakes.

    /// Worker side, after pushing completions: write the eventfd only if the
    /// host has re-armed since the last write. Returns true if it wrote (made
    /// a syscall): a worker that times requests back to back re-reads its
    /// clock then.
    ///
    /// The fence pairs with the one in ``rearmHostNotification(_:)``: either
    /// this load sees the host's cleared flag and writes, or the host's re-check
    /// after its fence sees the completions just pushed.
    @inline(__always) @discardableResult func notifyHost() -> Bool {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if !hostNotified.pointee.load(ordering: .relaxed),
           !hostNotified.pointee.exchange(true, ordering: .acquiringAndReleasing) {
            var one: UInt64 = 1
            _ = write(eventFD, &one, 8)
            return true
        }
        return false
    }

    /// Points inside ``rearmHostNotification(_:)``, for tests that run a
    /// worker's notification at each of them.
    enum RearmStep: CaseIterable { case start, counterConsumed, flagCleared }

    /// Host side, before it sleeps on the eventfd: if a notification was sent
    /// since the last re-arm, consume the counter, *then* clear the flag; then
    /// fence. The caller re-checks the completion rings after this returns.
    ///
    /// The order is the point. Clearing first and reading second would let a
    /// worker's late notification — for completions the host had already
    /// polled out — land between the two: the worker sets the flag and writes,
    /// the host's read swallows the write, the flag stays set, every later
    /// completion skips its write, and a host asleep on the fd never wakes.
    /// Reading first, a write can only be swallowed before the clear, and the
    /// clear re-opens notifications (docs/DESIGN.md, "Completion notification").
    ///
    /// After a clear exactly one worker wins the flag and writes once. So a
    /// set flag with nothing to read means the winner's write is still on its
    /// way: the flag stays set and that write wakes the host. (Clearing then
    /// would leave the late write's count behind a cleared flag, and every
    /// later re-arm, skipping the read, would wake at once.) With the flag
    /// clear there is nothing to consume: no syscall.
    @inline(__always) func rearmHostNotification(_ probe: (RearmStep) -> Void = { _ in }) {
        probe(.start)
        if hostNotified.pointee.load(ordering: .acquiring) {
            var counter: UInt64 = 0
            let consumed = read(eventFD, &counter, 8) == 8
            probe(.counterConsumed)
            if consumed { hostNotified.pointee.store(false, ordering: .sequentiallyConsistent) }
            probe(.flagCleared)
        }
        atomicMemoryFence(ordering: .sequentiallyConsistent)
    }
}

extension EngineCore {
    /// Requests of `worker` that hosts ran themselves (reads during its rests,
    /// `serveHere`), reaped so far.
    func readsBySubmitters(worker: Int) -> Int {
        guard worker >= 0 && worker < submitterReadsCount else { return 0 }
        return submitterReads[worker].load(ordering: .relaxed)
    }

    /// The reaper (serialised by `reaping`) counts one such read of `worker`.
    @inline(__always)
    func countReadBySubmitter(worker: Int) {
        guard worker >= 0 && worker < submitterReadsCount else { return }
        let counter = submitterReads + worker
        counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// With a worker handler there is no reaper: the threads that serve
    /// requests themselves (``IOEngine/serveHere(_:)``) count with an atomic add.
    func countReadBySubmitterConcurrently(worker: Int) {
        guard worker >= 0 && worker < submitterReadsCount else { return }
        (submitterReads + worker).pointee.wrappingAdd(1, ordering: .relaxed)
    }
}
