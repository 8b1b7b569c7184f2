import CRealtimeIOShims
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Submitting requests: validation, filling a slot, choosing a worker.
extension IOEngine {

    /// Queues one request; its completion carries `tag`. Returns a handle
    /// that ``cancel(_:)`` takes; ignoring it costs nothing.
    ///
    /// No lock, no allocation; a syscall only to wake a parked worker, or to
    /// run a read on this thread while its worker rests
    /// (``EngineConfiguration/submitterReadsDuringRest``).
    /// - Throws: ``SubmitError``; nothing was enqueued.
    @inlinable
    @discardableResult
    public func submit(_ request: IORequest, tag: UInt64, placement: Placement = .leastLoaded) throws(SubmitError) -> RequestHandle {
        try submit(request, tag: tag, placement: placement, continuation: nil)
    }

    @usableFromInline
    @discardableResult
    func submit(
        _ request: IORequest, tag: UInt64, placement: Placement, continuation: UnsafeMutableRawPointer?
    ) throws(SubmitError) -> RequestHandle {
        try Self.validate(request)
        // The one clock read of a submit: placement measures in-service ages
        // against it, and it is the request's submission time.
        let now = rtio_monotonic_ns()
        let target = try chooseWorker(placement, now: now)
        guard core.enterSubmit() else { throw .shutDown }
        defer { core.leaveSubmit() }
        // Through the unretained reference: no reference count per submit.
        let slab = core.slabRef
        guard let slot = slab._withUnsafeGuaranteedRef({ $0.acquire() }) else { throw .full }
        let record = slab._withUnsafeGuaranteedRef { $0.record(slot) }
        Self.fill(record, with: request)
        record.pointee.tag = tag
        record.pointee.continuation = continuation
        if continuation != nil { record.pointee.flags |= RequestFlags.resumesContinuation }
        record.pointee.submittedAt = now
        record.pointee.target = Int32(truncatingIfNeeded: target)
        // Before the slot is published: its worker's dequeue reads the state word.
        let handle = slab._withUnsafeGuaranteedRef { $0.markQueued(slot) }
        if target == Self.onDemandTarget {
            try submitOnDemand(slot)
            return handle
        }
        if readsDuringRest, continuation == nil, record.pointee.opcode == .read,
           rings[target]._withUnsafeGuaranteedRef({ $0.restsWithNothingQueued && readDuringRest(slot, record, ring: $0, worker: target) }) {
            return handle
        }
        guard rings[target]._withUnsafeGuaranteedRef({ $0.tryPush(UInt64(slot)) }) else {
            // Hybrid: the chosen ring is full; overflow to the on-demand pool. Slots are
            // shared: with none free the submit failed with .full above (no reserve).
            if onDemand != nil, mayOverflow(placement) {
                record.pointee.target = Int32(truncatingIfNeeded: Self.onDemandTarget)
                try submitOnDemand(slot)
                overflowCounter.add(1, ordering: .relaxed)
                return handle
            }
            slab._withUnsafeGuaranteedRef { $0.release(slot) }
            throw .full
        }
        return handle
    }

    /// Reads during a rest: the chosen worker sleeps in a timed rest with
    /// nothing queued (``SubmissionRing/restsWithNothingQueued``), so this
    /// read would wait for the rest's end (a slice and a timer wake-up). Tries
    /// it here with `preadv2(RWF_NOWAIT)`: true if it read everything asked —
    /// the slot is then finished and its completion posted like a cancelled
    /// one (``PostedCompletions``, drained by reap; `worker` nil); false
    /// (not cached, short, an error) leaves the slot as it was, to be queued.
    ///
    /// Order: the worker had taken every entry this thread queued before and
    /// runs nothing (see ConsumerWakeup "Timed rests"), so this read cannot
    /// overtake a request of this thread on that worker.
    @inline(__always)
    func readDuringRest(_ slot: UInt32, _ record: UnsafeMutablePointer<RequestRecord>, ring: SubmissionRing, worker: Int) -> Bool {
        let length = record.pointee.length
        guard length > 0 else { return false }
        // Two syscalls (F_GETFL: an O_DIRECT descriptor is refused, its read would wait for the device).
        let n = rtio_pread_nowait(record.pointee.fd, record.pointee.buffer, length, record.pointee.offset)
        guard n == length else { return false }
        record.pointee.result = n
        // No preallocated worker ran it (IOCompletion.worker nil); the reaper counts it for `worker`.
        record.pointee.target = Int32(truncatingIfNeeded: -2 - worker)
        core.slabRef._withUnsafeGuaranteedRef { slab in
            slab.markDoneBySubmitter(slot)
            core.postedRef._withUnsafeGuaranteedRef { $0.push(slot, slab: slab) }
        }
        core.notifyHost()
        // The worker's idle clock must not run out over a rest whose requests we served.
        ring.wakeup.noteServedDuringRest()
        return true
    }

    /// Hands a filled slot to the on-demand pool; releases it if refused.
    func submitOnDemand(_ slot: UInt32) throws(SubmitError) {
        do {
            try onDemand!.submit(slot)
        } catch {
            core.slabRef._withUnsafeGuaranteedRef { $0.release(slot) }
            throw error
        }
    }

    static func validate(_ request: IORequest) throws(SubmitError) {
        func range(_ offset: Int64, _ length: Int64) throws(SubmitError) {
            guard offset >= 0, length >= 0, length <= Int64.max - offset else {
                throw .invalidRange(offset: offset, length: length)
            }
        }
        switch request {
        case .read(_, let buffer, let offset): try range(offset, Int64(buffer.count))
        case .write(_, let buffer, let offset): try range(offset, Int64(buffer.count))
        case .readv(_, let iov, let offset), .writev(_, let iov, let offset):
            guard iov.count <= 1024 else { throw .tooManyIOVecs(iov.count) }
            // Lengths are size_t: one above SSIZE_MAX arrives negative here.
            // The sum must fit ssize_t (preadv's limit), every non-empty
            // iovec needs a base address.
            var total: Int64 = 0
            var i = 0
            while i < iov.count {
                let v = iov[i]
                guard v.iov_len >= 0 else { throw .invalidRange(offset: offset, length: Int64(v.iov_len)) }
                guard v.iov_base != nil || v.iov_len == 0 else { throw .badAddress(iovec: i) }
                let (sum, overflow) = total.addingReportingOverflow(Int64(v.iov_len))
                guard !overflow else { throw .invalidRange(offset: offset, length: Int64.max) }
                total = sum
                i += 1
            }
            try range(offset, total)
        case .fallocate(_, _, let offset, let length): try range(offset, length)
        case .fsync, .fdatasync, .custom: break
        }
    }

    static func fill(_ r: UnsafeMutablePointer<RequestRecord>, with request: IORequest) {
        r.pointee.flags = 0
        r.pointee.mode = 0
        r.pointee.offset = 0
        r.pointee.length = 0
        r.pointee.buffer = nil
        r.pointee.custom = nil
        switch request {
        case .read(let fd, let buffer, let offset):
            r.pointee.opcode = .read
            r.pointee.fd = fd.rawValue
            r.pointee.buffer = buffer.baseAddress
            r.pointee.length = buffer.count
            r.pointee.offset = offset
        case .write(let fd, let buffer, let offset):
            r.pointee.opcode = .write
            r.pointee.fd = fd.rawValue
            r.pointee.buffer = UnsafeMutableRawPointer(mutating: buffer.baseAddress)
            r.pointee.length = buffer.count
            r.pointee.offset = offset
        case .readv(let fd, let iov, let offset), .writev(let fd, let iov, let offset):
            if case .readv = request { r.pointee.opcode = .readv } else { r.pointee.opcode = .writev }
            r.pointee.fd = fd.rawValue
            r.pointee.offset = offset
            r.pointee.length = iov.count
            if iov.count <= RequestRecord.inlineIOVecCapacity {
                r.pointee.flags |= RequestFlags.inlineIOVecs
                withUnsafeMutablePointer(to: &r.pointee.inlineIOVecs) { tuple in
                    tuple.withMemoryRebound(to: iovec.self, capacity: RequestRecord.inlineIOVecCapacity) { dst in
                        for i in 0..<iov.count { dst[i] = iov[i] }
                    }
                }
            } else {
                r.pointee.buffer = UnsafeMutableRawPointer(mutating: iov.baseAddress)
            }
        case .fsync(let fd):
            r.pointee.opcode = .fsync
            r.pointee.fd = fd.rawValue
        case .fdatasync(let fd):
            r.pointee.opcode = .fdatasync
            r.pointee.fd = fd.rawValue
        case .fallocate(let fd, let mode, let offset, let length):
            r.pointee.opcode = .fallocate
            r.pointee.fd = fd.rawValue
            r.pointee.mode = mode.flags
            r.pointee.offset = offset
            r.pointee.length = Int(length)
        case .custom(let function, let context):
            r.pointee.opcode = .custom
            r.pointee.custom = function
            r.pointee.buffer = context
        }
    }

    /// The worker `placement` names for a request submitted at `now`
    /// (`CLOCK_MONOTONIC` ns), or ``onDemandTarget``.
    func chooseWorker(_ placement: Placement, now: UInt64) throws(SubmitError) -> Int {
        if workers.isEmpty {
            // On-demand mode: any placement but one naming a worker goes to the pool.
            if case .worker(let index) = placement { throw .noSuchWorker(index) }
            return Self.onDemandTarget
        }
        switch placement {
        case .worker(let index):
            guard index >= 0, index < workers.count else { throw .noSuchWorker(index) }
            return index
        case .leastLoaded:
            return leastLoaded(0, workers.count - 1, now: now)
        case .leastLoadedIn(let group):
            guard group.index >= 0, group.index < groupWorkers.count else { throw .noSuchWorker(group.index) }
            // Subscripted in place: binding the member array to a local retains it.
            return leastLoaded(groupWorkers[group.index][0], groupWorkers[group.index][groupWorkers[group.index].count - 1], now: now)
        case .roundRobin(let group):
            guard group.index >= 0, group.index < groupWorkers.count else { throw .noSuchWorker(group.index) }
            let n = roundRobin[group.index].add(1, ordering: .relaxed).oldValue
            return groupWorkers[group.index][n % groupWorkers[group.index].count]
        }
    }

    /// A request in service for longer than this is *long*: placement does
    /// not queue behind it while a worker of the same range is not in that
    /// state (see ``Placement/leastLoaded``). 100 µs: well above a
    /// page-cache read or a small write (1–10 µs), about one NVMe read; a
    /// worker preempted in the middle of a short request also turns long.
    static let longServiceNanoseconds: Int64 = 100_000

    /// The worker of `first...last` a least-loaded request goes to, at `now`:
    ///
    /// 1. the first *idle* one: nothing queued, nothing in service and
    ///    nothing in its own io_uring;
    /// 2. else, among workers whose request in service (if any) has run at
    ///    most ``longServiceNanoseconds``, the one with the least load
    ///    (queued entries, plus one for the request in service, plus those in
    ///    its io_uring), ties to the lowest index;
    /// 3. else (every worker serves a long request) the one whose request
    ///    started last, ties to the least load: the longer a request has run,
    ///    the likelier it is stuck (a blocked read, a stalled filesystem) and
    ///    the longer it is likely to run on, while a worker preempted in the
    ///    middle of a short request is soon free again.
    ///
    /// A lightly loaded engine keeps one worker hot and lets the others park.
    /// Per worker it reads `enqueuePosition` (line 0 of its ring) and
    /// `consumedCount`, the service mark and the in-kernel count (all on
    /// line 1); it stops at the first idle worker. Relaxed loads: a racing
    /// pop or service start or end makes one placement approximate, never
    /// wrong for correctness. Index loops, not iterators: unspecialised
    /// generic iteration allocates coroutine frames in debug builds.
    @inline(__always)
    func leastLoaded(_ first: Int, _ last: Int, now: UInt64) -> Int {
        var best = first
        var bestLoad = Int.max
        var bestIsLong = true
        var bestSince: UInt64 = 0
        var i = first
        while i <= last {
            let (queued, since, inKernel) = rings[i]._withUnsafeGuaranteedRef {
                ($0.approximateCount, $0.serviceStartedAt, $0.requestsInKernel)
            }
            // Requests in the worker's io_uring load it but never hold it: it
            // takes more while they wait in the kernel, so they are not "long".
            if since == 0 {
                let load = queued &+ inKernel
                if load == 0 { return i }
                if bestIsLong || load < bestLoad {
                    best = i
                    bestLoad = load
                    bestIsLong = false
                }
            } else {
                let load = queued &+ inKernel &+ 1
                // The worker's clock read may be later than ours: signed difference.
                if Int64(bitPattern: now &- since) <= Self.longServiceNanoseconds {
                    if bestIsLong || load < bestLoad {
                        best = i
                        bestLoad = load
                        bestIsLong = false
                    }
                } else if bestIsLong && (since > bestSince || (since == bestSince && load < bestLoad)) {
                    best = i
                    bestLoad = load
                    bestSince = since
                }
            }
            i += 1
        }
        return best
    }
}
