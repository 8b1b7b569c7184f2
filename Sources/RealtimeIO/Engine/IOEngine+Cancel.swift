import CRealtimeIOShims

#if canImport(Glibc)
import Glibc
#endif

/// Withdrawing queued requests.
extension IOEngine {

    /// Cancels the request `handle` names if it has not started.
    ///
    /// - ``CancelResult/cancelled``: it will never run. Its completion, result
    ///   `-ECANCELED`, is delivered *before this returns*, however long the
    ///   worker it was queued on stays busy (say, blocked in a read): an async
    ///   caller's continuation is resumed (``perform(_:placement:)`` throws),
    ///   the worker handler runs *on this thread* (with the completion's
    ///   `worker` the one it was queued on), or the completion is queued for
    ///   ``reap(maximum:rearm:_:)`` and ``completionFD`` notified. Exactly one
    ///   completion, as for any request.
    /// - ``CancelResult/running``: a worker runs it; it completes normally.
    /// - ``CancelResult/alreadyDone``: finished (perhaps not yet reaped),
    ///   cancelled before, or the handle is stale.
    ///
    /// The slot of a cancelled request returns to the free list only once the
    /// completion has been consumed *and* the worker has dequeued (and skipped)
    /// its ring entry: cancelled requests queued behind a stuck worker keep
    /// their slots until it moves on.
    ///
    /// Lock-free: one compare-exchange on the slot's state word, then the
    /// delivery (a continuation resume, the handler, or a lock-free push and
    /// at most one eventfd write). Any thread, also from a worker handler.
    public func cancel(_ handle: RequestHandle) -> CancelResult {
        let outcome = core.slab.tryCancel(handle)
        if outcome == .cancelled { core.deliverCancelled(handle.slot) }
        return outcome
    }

    /// Whether `handle` could have been issued by this engine (its slot is one
    /// of this engine's); the C ABI refuses others with EINVAL.
    package func issued(_ handle: RequestHandle) -> Bool { Int(handle.slot) < core.slab.count }

    /// Reap side: completions of cancelled requests and of reads submitters
    /// ran during a rest (counted here, per worker), up to `maximum`.
    @inline(__always)
    /// Every poll of an engine without cancellations costs one relaxed load;
    /// no reference count (unretained, like the completion rings).
    func drainPostedCompletions(maximum: Int, _ body: (IOCompletion) -> Void) -> Int {
        core.postedRef._withUnsafeGuaranteedRef { queue in
            if queue.isEmpty { return 0 }
            return core.slabRef._withUnsafeGuaranteedRef { slab in
                var delivered = 0
                while delivered < maximum, let slot = queue.pop(slab: slab) {
                    let r = slab.record(slot)
                    let completion = IOCompletion(tag: r.pointee.tag, result: r.pointee.result, worker: r.pointee.workerIndex)
                    if let w = r.pointee.restingWorker { core.countReadBySubmitter(worker: w) }
                    slab.postedCompletionConsumed(slot)
                    body(completion)
                    delivered += 1
                }
                return delivered
            }
        }
    }
}

extension EngineCore {
    /// The canceller, owning the host side of cancelled `slot`: completes it
    /// with `-ECANCELED` through the engine's delivery.
    func deliverCancelled(_ slot: UInt32) {
        slab.record(slot).pointee.flags |= RequestFlags.cancelled
        deliverPosted(slot, result: -Int(ECANCELED))
    }

    /// The owner of the host side of `slot` (a canceller, or a caller of
    /// ``IOEngine/serveHere(_:)``) delivers its completion, `result`, through
    /// the engine's delivery: resumes the continuation, runs the worker
    /// handler on this thread, or posts it for reap and notifies the host.
    func deliverPosted(_ slot: UInt32, result: Int) {
        let record = slab.record(slot)
        record.pointee.result = result
        if record.pointee.flags & RequestFlags.resumesContinuation != 0 {
            let box = record.pointee.continuation!
            record.pointee.continuation = nil
            slab.postedCompletionConsumed(slot)
            ContinuationBox.resume(box, result: result)
            return
        }
        if let handler {
            let completion = IOCompletion(tag: record.pointee.tag, result: result, worker: record.pointee.workerIndex)
            // No reaper with a handler: several serving threads may count at once.
            if let w = record.pointee.restingWorker { countReadBySubmitterConcurrently(worker: w) }
            slab.postedCompletionConsumed(slot)
            handler(completion)
        } else {
            postedCompletions.push(slot, slab: slab)
            notifyHost()
        }
    }
}
