import Synchronization

/// The life of one request slot as one atomic 64-bit word: the slot's
/// *generation* in the high 32 bits, the phase bits below.
///
/// The word lets a request be withdrawn (``IOEngine/cancel(_:)``) without a
/// lock, and lets a ``RequestHandle`` (slot + generation) outlive its request
/// safely: a handle whose generation differs from the word's names a request
/// that is gone, and can never cancel the slot's next request.
///
/// ## Transitions
/// ```
/// submit:   (g, any) ──store──▶ (g+1, queued)
/// dequeue:  fetch-or dequeued        (worker or on-demand worker, once per request)
///   queued            ─▶ queued|dequeued            : run it
///   queued|cancelled  ─▶ queued|cancelled|dequeued  : skip it (never run)
/// finish:   queued|dequeued ──store──▶ queued|dequeued|finished   (before delivery)
/// cancel:   exactly (g, queued) ──CAS──▶ (g, queued|cancelled)
/// serve here: exactly (g, queued) ──CAS──▶ (g, queued|cancelled|servedHere)  (the caller runs it)
/// submitter-done: (g, queued) ──store──▶ (g, queued|dequeued|finished)  (a read during a rest;
///           a plain store: no handle of generation g exists before submit returns)
/// consumed: fetch-or consumed: the cancelled completion was delivered or reaped
/// ```
/// A cancelled slot has two owners: the worker, whose submission ring (or the
/// on-demand queue) still holds its index, and the host side, which owes the
/// host the `-ECANCELED` completion. Each sets its bit (`dequeued`,
/// `consumed`) with one read-modify-write; the one that finds the other's bit
/// already set frees the slot. So the completion is delivered at once, even
/// while the worker the request is queued on is stuck in a blocking call, and
/// the slot is reused only once no ring cell refers to it.
///
/// Nothing resets the phase bits when a slot is freed: a freed slot keeps
/// `finished` (or `cancelled`), so a handle of its last request still reads
/// "already done" until the next submit bumps the generation.
///
/// ## Ordering
/// The submitter's store is releasing (after it filled the record) and the
/// canceller's compare-exchange acquiring: a canceller that wins reads the
/// record's tag, continuation and target. Both `dequeued` and `consumed` are
/// set with acquire-release read-modify-writes, so the party that frees the
/// slot is ordered after everything the other did with the record.
///
/// Generation 0 is never issued (it wraps from 2³²−1 to 1), so a zero handle
/// is never valid. A handle kept across 2³² reuses of its slot could match
/// again; nothing holds a handle that long in practice.
enum RequestState {
    static let queued: UInt64 = 1 << 0
    static let dequeued: UInt64 = 1 << 1
    static let finished: UInt64 = 1 << 2
    static let cancelled: UInt64 = 1 << 3
    static let consumed: UInt64 = 1 << 4
    /// With `cancelled`: withdrawn by ``IOEngine/serveHere(_:)``, whose caller
    /// runs the request; the worker skips it as it skips a cancelled one.
    static let servedHere: UInt64 = 1 << 5
    static let phaseMask: UInt64 = 0xFFFF_FFFF

    @inline(__always) static func generation(_ word: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: word >> 32) }

    @inline(__always) static func word(generation: UInt32, phase: UInt64) -> UInt64 { UInt64(generation) << 32 | phase }

    /// The generation after `g`, skipping 0.
    @inline(__always) static func next(_ g: UInt32) -> UInt32 { g == .max ? 1 : g &+ 1 }
}

/// Slot states, one word per record (see ``RequestState``).
extension RequestSlab {
    /// The state word of slot `index`: the 8 bytes before its record, on the
    /// record's first cache line (submit and the worker touch that line anyway).
    @inlinable
    func state(_ index: UInt32) -> UnsafeMutablePointer<Atomic<UInt64>> {
        (records + Int(index) &* recordStride).assumingMemoryBound(to: Atomic<UInt64>.self)
    }

    /// Submit, after filling the record and before publishing the slot to a
    /// worker: starts a new generation in state `queued` and returns its handle.
    /// Cost: one load and one store on the record's first line (owned by the
    /// caller; no read-modify-write).
    @inline(__always)
    package func markQueued(_ index: UInt32) -> RequestHandle {
        let word = state(index)
        let generation = RequestState.next(RequestState.generation(word.pointee.load(ordering: .relaxed)))
        word.pointee.store(RequestState.word(generation: generation, phase: RequestState.queued), ordering: .releasing)
        return RequestHandle(slot: index, generation: generation)
    }

    /// A worker (preallocated or on-demand) that has just dequeued slot
    /// `index`: true if it is to run the request; false if it was cancelled or
    /// served elsewhere, in which case the caller must not touch the record
    /// again (the slot is freed here if its completion was already consumed).
    /// Cost: one atomic fetch-or on the record's first line, which the worker
    /// reads next anyway (x86: a `lock cmpxchg` loop, one iteration uncontended).
    @inline(__always)
    package func beginService(_ index: UInt32) -> Bool {
        beginServiceReporting(index) == .run
    }

    /// What a worker found when it dequeued a slot.
    package enum ServiceStart { case run, cancelled, servedHere }

    /// ``beginService(_:)``, saying why a request is skipped.
    @inline(__always)
    package func beginServiceReporting(_ index: UInt32) -> ServiceStart {
        let old = state(index).pointee.bitwiseOr(RequestState.dequeued, ordering: .acquiringAndReleasing).oldValue
        if old & RequestState.cancelled == 0 { return .run }
        if old & RequestState.consumed != 0 { release(index) }
        return old & RequestState.servedHere != 0 ? .servedHere : .cancelled
    }

    /// A worker, after the request ran and before its completion is delivered
    /// or posted (afterwards the slot may already be reused). One store.
    @inline(__always)
    package func markFinished(_ index: UInt32) {
        let word = state(index)
        let current = word.pointee.load(ordering: .relaxed)
        word.pointee.store(current | RequestState.finished, ordering: .releasing)
    }

    /// The submitter ran the request itself (a read during its worker's rest):
    /// no ring holds the slot, so it is `dequeued` and `finished` at once and
    /// freed when its posted completion is consumed
    /// (``postedCompletionConsumed(_:)``). A cancel now finds it done.
    @inline(__always)
    func markDoneBySubmitter(_ index: UInt32) {
        let word = state(index)
        let current = word.pointee.load(ordering: .relaxed)
        word.pointee.store(current | RequestState.dequeued | RequestState.finished, ordering: .releasing)
    }

    /// The host side after delivering (or the reaper after reaping) a posted
    /// completion — the `-ECANCELED` one of a cancelled slot, or a read its
    /// submitter ran: frees the slot if its worker has passed it already
    /// (always, for the read: ``markDoneBySubmitter(_:)`` set `dequeued`).
    @inline(__always)
    func postedCompletionConsumed(_ index: UInt32) {
        let old = state(index).pointee.bitwiseOr(RequestState.consumed, ordering: .acquiringAndReleasing).oldValue
        if old & RequestState.dequeued != 0 { release(index) }
    }

    /// ``IOEngine/serveHere(_:)``: withdraws the request as a cancel does, marked
    /// served here; on ``ServeHereResult/served`` the caller owns the host side
    /// of the slot, runs the request and must deliver its completion.
    func tryServeHere(_ handle: RequestHandle) -> ServeHereResult {
        switch tryWithdraw(handle, marking: RequestState.cancelled | RequestState.servedHere) {
        case .cancelled: .served
        case .running: .running
        case .alreadyDone: .alreadyDone
        }
    }

    /// What ``IOEngine/cancel(_:)`` found; on ``CancelResult/cancelled`` the
    /// caller now owns the host side of the slot and must deliver its
    /// completion. `.alreadyDone` also for a slot outside this slab.
    func tryCancel(_ handle: RequestHandle) -> CancelResult {
        tryWithdraw(handle, marking: RequestState.cancelled)
    }

    /// Withdraws a request still exactly `(g, queued)` by adding `bits` (one
    /// compare-exchange): `.cancelled` when it did, `.running` when a worker
    /// has it, `.alreadyDone` otherwise (also for a slot outside this slab).
    private func tryWithdraw(_ handle: RequestHandle, marking bits: UInt64) -> CancelResult {
        guard Int(handle.slot) < count else { return .alreadyDone }
        let word = state(handle.slot)
        let queued = RequestState.word(generation: handle.generation, phase: RequestState.queued)
        let (exchanged, observed) = word.pointee.compareExchange(
            expected: queued, desired: queued | bits,
            successOrdering: .acquiringAndReleasing, failureOrdering: .relaxed)
        if exchanged { return .cancelled }
        guard RequestState.generation(observed) == handle.generation else { return .alreadyDone }
        let phase = observed & RequestState.phaseMask
        return phase == RequestState.queued | RequestState.dequeued ? .running : .alreadyDone
    }
}
