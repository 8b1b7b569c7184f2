import CRealtimeIOShims
import Synchronization

/// Submitting many requests at once: one placement, one gate entry and one
/// ring claim for the whole batch.
extension IOEngine {

    /// Queues every request of `batch` on one worker, or none of them.
    ///
    /// The placement is decided once for the batch; its requests go to that
    /// worker's ring through one claim of `batch.count` consecutive cells and
    /// run in batch order. In hybrid mode a batch whose ring has no room
    /// overflows to the on-demand pool as a whole (not with ``Placement/worker(_:)``).
    ///
    /// **All or nothing.** Every request is validated before anything is
    /// taken; then the batch takes `batch.count` request slots and one claim.
    /// If either falls short, every slot taken is freed and the batch is
    /// refused with ``BatchSubmitError/refused(_:)`` (``SubmitError/full``):
    /// no request of the batch was enqueued. On success all were, and each
    /// completes exactly once with its own tag.
    ///
    /// Cost against `batch.count` single submits: one clock read, one
    /// placement, one gate entry and exit, one ring claim (one compare-exchange)
    /// and at most one worker wake-up for the batch; still one slab
    /// compare-exchange per request. No lock, no allocation.
    ///
    /// - Throws: ``BatchSubmitError``; nothing was enqueued.
    public func submit(batch: UnsafeBufferPointer<IOSubmission>, placement: Placement = .leastLoaded) throws(BatchSubmitError) {
        try submitBatch(count: batch.count, placement: placement, handles: nil) { batch[$0] }
    }

    /// ``submit(batch:placement:)``, also storing each request's handle
    /// (for ``cancel(_:)``): on success `handles[i]` names `batch[i]`; on a
    /// throw the buffer holds nothing meaningful. `handles` must have room for
    /// `batch.count` handles; a smaller buffer is refused before anything is
    /// taken (``BatchSubmitError/batchTooLarge(count:limit:)`` with its size as
    /// the limit). No allocation.
    public func submit(
        batch: UnsafeBufferPointer<IOSubmission>, placement: Placement = .leastLoaded,
        handles: UnsafeMutableBufferPointer<RequestHandle>
    ) throws(BatchSubmitError) {
        guard handles.count >= batch.count else { throw .batchTooLarge(count: batch.count, limit: handles.count) }
        try submitBatch(count: batch.count, placement: placement, handles: handles.baseAddress) { batch[$0] }
    }

    /// ``submit(batch:placement:)`` for an array (no copy, no allocation).
    public func submit(contentsOf batch: [IOSubmission], placement: Placement = .leastLoaded) throws(BatchSubmitError) {
        // withUnsafeBufferPointer cannot carry a typed error out: capture it.
        var failure: BatchSubmitError?
        batch.withUnsafeBufferPointer { buffer in
            do throws(BatchSubmitError) { try submit(batch: buffer, placement: placement) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// The batch submit behind the public forms and the C ABI.
    ///
    /// `element(i)` is the i-th request (called twice per request: validation,
    /// then filling; it must return the same value both times). When `handles`
    /// is non-nil, `handles[i]` receives the handle of request `i` (valid on
    /// success).
    ///
    /// Acquired slots are chained through their records' `result` field (the
    /// worker overwrites it) until the claim succeeds, so an all-or-nothing
    /// batch needs no scratch memory.
    @inline(__always)
    package func submitBatch(
        count n: Int, placement: Placement, handles: UnsafeMutablePointer<RequestHandle>?, _ element: (Int) -> IOSubmission
    ) throws(BatchSubmitError) {
        guard n > 0 else { return }
        var i = 0
        while i < n {
            do { try Self.validate(element(i).request) } catch { throw .invalidRequest(index: i, error) }
            i += 1
        }
        let now = rtio_monotonic_ns()
        let target: Int
        do { target = try chooseWorker(placement, now: now) } catch { throw .refused(error) }
        let slab = core.slab
        let overflow = onDemand != nil && mayOverflow(placement)
        let ringCapacity = workers.isEmpty ? Int.max : configuration.ringCapacity
        if n > slab.count || (n > ringCapacity && !overflow) {
            throw .batchTooLarge(count: n, limit: overflow ? slab.count : min(ringCapacity, slab.count))
        }
        guard core.enterSubmit() else { throw .refused(.shutDown) }
        defer { core.leaveSubmit() }

        // 1. Slots, each filled as it is taken, chained first → last.
        var first: UInt32 = 0
        var previous: UnsafeMutablePointer<RequestRecord>? = nil
        i = 0
        while i < n {
            guard let slot = slab.acquire() else {
                if i > 0 { releaseChain(from: first, count: i) }
                throw .refused(.full)
            }
            let entry = element(i)
            let record = slab.record(slot)
            Self.fill(record, with: entry.request)
            record.pointee.tag = entry.tag
            record.pointee.continuation = nil
            record.pointee.submittedAt = now
            record.pointee.target = Int32(truncatingIfNeeded: target)
            // Before the slot is published: its worker's dequeue reads the state word.
            let handle = slab.markQueued(slot)
            handles?[i] = handle
            if let previous { previous.pointee.result = Int(slot) } else { first = slot }
            previous = record
            i += 1
        }

        // 2. One claim on the target ring, or the on-demand pool.
        if target != Self.onDemandTarget {
            if n <= ringCapacity {
                let claimed: Bool = rings[target]._withUnsafeGuaranteedRef { ring in
                    guard let claim = ring.tryClaim(n) else { return false }
                    var slot = first
                    var k = 0
                    while k < n {
                        let next = UInt32(truncatingIfNeeded: slab.record(slot).pointee.result)
                        ring.publish(claim, at: k, UInt64(slot))
                        slot = next
                        k += 1
                    }
                    ring.finishPublishing(claim)
                    return true
                }
                if claimed { return }
                guard overflow else {
                    releaseChain(from: first, count: n)
                    throw .refused(.full)
                }
            }
            overflowCounter.add(n, ordering: .relaxed)
        }
        // The pool refuses only after its shutdown, which cannot begin while this
        // batch holds the submit gate; should it refuse anyway, the rest of the
        // chain is freed and the refusal reported.
        var slot = first
        var k = 0
        while k < n {
            let record = slab.record(slot)
            let next = UInt32(truncatingIfNeeded: record.pointee.result)
            record.pointee.target = Int32(truncatingIfNeeded: Self.onDemandTarget)
            do { try onDemand!.submit(slot) } catch {
                releaseChain(from: slot, count: n - k)
                throw .refused(error)
            }
            slot = next
            k += 1
        }
    }

    /// Frees `count` slots chained through their records' `result` from `first`.
    private func releaseChain(from first: UInt32, count: Int) {
        var slot = first
        var k = 0
        while k < count {
            let next = UInt32(truncatingIfNeeded: core.slab.record(slot).pointee.result)
            core.slab.release(slot)
            slot = next
            k += 1
        }
    }
}
