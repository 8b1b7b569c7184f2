import CRealtimeIOShims

/// Running a queued request on the thread that waits for it.
extension IOEngine {

    /// Runs the request `handle` names on the calling thread if no worker has
    /// taken it yet.
    ///
    /// A host that waits for a request and finds it still queued — its worker
    /// rests past its real-time share, or its CPU is taken by an interrupt, a
    /// higher-priority thread or the hypervisor — can stop waiting for the
    /// worker and run the request itself:
    /// ```swift
    /// let handle = try engine.submit(.read(fd, into: buffer, at: offset), tag: 7)
    /// // … spin on reap for a few µs; still nothing:
    /// _ = engine.serveHere(handle)   // .served: its completion is ready for reap
    /// ```
    ///
    /// - ``ServeHereResult/served``: the request was withdrawn from its worker
    ///   exactly as ``cancel(_:)`` withdraws one, then run here with the
    ///   worker's own code (blocking system calls, short transfers continued,
    ///   `EINTR` retried). Its completion carries the real result and
    ///   ``IOCompletion/worker`` nil, and is delivered as a cancelled one is:
    ///   the continuation resumed, the worker handler run on this thread, or
    ///   queued for ``reap(maximum:rearm:_:)`` with ``completionFD`` notified.
    /// - ``ServeHereResult/running``: a worker took it first; it completes normally.
    /// - ``ServeHereResult/alreadyDone``: finished, cancelled, served, or stale.
    ///
    /// The calling thread makes the request's system calls: call it for
    /// requests that cannot block for long (page-cached reads), or where the
    /// thread would wait for the request anyway. Lock-free and allocation-free:
    /// one compare-exchange on the slot's state word, the request's own system
    /// calls, then the delivery. Any thread. Requests served so are counted
    /// with the worker's ``WorkerSnapshot/readsBySubmitters``.
    public func serveHere(_ handle: RequestHandle) -> ServeHereResult {
        let outcome = core.slab.tryServeHere(handle)
        guard outcome == .served else { return outcome }
        let slab = core.slab
        let record = slab.record(handle.slot)
        // A preallocated worker's request is counted for that worker by whoever
        // consumes the completion (IOCompletion.worker nil, like a read during a rest).
        let target = record.pointee.target
        if target >= 0 { record.pointee.target = -2 - target }
        let result = RequestExecution.run(record)
        core.deliverPosted(handle.slot, result: result)
        return .served
    }

    /// True while the worker the request `handle` names was queued on sleeps in
    /// a timed rest past its real-time share
    /// (``EngineConfiguration/RealtimeShareRest/slices``): it takes the request
    /// only when its current slice ends. A host waiting for the request can
    /// then ``serveHere(_:)`` at once instead of waiting out the slice.
    ///
    /// Call it only for a request whose completion has not been reaped (its
    /// slot cannot have been reused). One relaxed load of the worker's wake-up
    /// word; no syscall.
    public func workerRests(handling handle: RequestHandle) -> Bool {
        queuedWorker(handle).map(workerRests) ?? false
    }

    /// The preallocated worker `handle`'s request was queued on (nil: on
    /// demand, served, or not this engine's slot). Reads the record's
    /// `target`, stable while the request is queued.
    func queuedWorker(_ handle: RequestHandle) -> Int? {
        guard Int(handle.slot) < core.slab.count else { return nil }
        let target = Int(core.slab.record(handle.slot).pointee.target)
        return target >= 0 && target < workers.count ? target : nil
    }

    /// True while worker `worker` (an index into ``workerSnapshots()``) sleeps
    /// in a timed rest, as ``workerRests(handling:)`` says, for a host that
    /// knows where its requests go (``Placement/worker(_:)``). One relaxed load
    /// of a line the worker writes only when it starts or ends a rest; false
    /// for an index out of range.
    public func workerRests(_ worker: Int) -> Bool {
        guard worker >= 0 && worker < workers.count else { return false }
        return rings[worker]._withUnsafeGuaranteedRef { $0.wakeup.isResting }
    }
}
