import CRealtimeIOShims
import RealtimeIOLinux
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// One preallocated worker: its submission ring, completion ring, counters
/// and thread. The run loop is the only code that runs on the thread.
///
/// ## Ownership
/// - `ring`: many producers (host threads), this worker consumes.
/// - `completions`: this worker produces, the reaping host thread consumes.
/// - `counters`: this worker writes; anyone reads.
/// - `core` is unowned: the engine joins every worker thread before it
///   releases the core.
final class Worker: @unchecked Sendable {
    let index: Int
    let groupIndex: Int
    let name: String
    let requestedCPUs: CPUList?
    let requestedScheduling: SchedulingPolicy
    let stackSize: Int
    let stackPrefaultBytes: Int
    let ring: SubmissionRing
    let completions: CompletionRing
    let counters: WorkerCounters
    unowned(unsafe) let core: EngineCore
    /// `core` and the engine's slab without reference counting: calling a
    /// method through an `unowned(unsafe)` reference still retains and
    /// releases it around the call (measured: one pair per request in
    /// `deliverDirectly`); `_withUnsafeGuaranteedRef` does not. The core
    /// holds the slab and outlives this worker's thread.
    let coreRef: Unmanaged<EngineCore>
    let slabRef: Unmanaged<RequestSlab>
    /// 0 until the thread has finished its start-up (tid recorded, stack touched).
    let started = Atomic<Int>(0)
    var thread: NativeThread?
    /// What the engine asked pthread_create for after any best-effort fallback.
    var bornWith: ThreadAttributes = ThreadAttributes()
    /// What the kernel reports for this thread right after birth, read by the
    /// thread itself before it sets `started` (whose release/acquire publishes
    /// them to the engine); nil if unreadable. See `IOEngine.checkBirth`.
    private(set) var birthScheduling: SchedulingPolicy?
    private(set) var birthCPUs: CPUList?
    /// What the thread could not apply to itself (a refused nice value).
    private(set) var birthErrors = NativeThread.BirthErrors()
    /// The I/O priority the thread sets on itself before it takes work (nil:
    /// class NONE, so it never keeps its creator's), the error if the kernel
    /// refused, and what `ioprio_get` then reports (`.some(nil)`: class NONE;
    /// nil: unreadable). Published by `started` like the fields above.
    let ioPriority: IOPriority?
    private(set) var ioPriorityError: Errno?
    private(set) var birthIOPriority: IOPriority??
    /// Requests the group asked this worker to keep in flight
    /// (``EngineConfiguration/WorkerGroup/inFlight``); above 1 the thread sets
    /// up its own ``WorkerIORing`` before it takes work. `ioRingError`: why it
    /// could not (it then runs one request at a time); `ioRingCapacity`: what
    /// it keeps in flight (1 without a ring). Published by `started`.
    let requestedInFlight: Int
    private(set) var ioRingError: Errno?
    private(set) var ioRingCapacity = 1

    init(
        index: Int, groupIndex: Int, name: String, requestedCPUs: CPUList?, requestedScheduling: SchedulingPolicy,
        stackSize: Int, stackPrefaultBytes: Int, ioPriority: IOPriority?, inFlight: Int = 1, ring: SubmissionRing,
        completions: CompletionRing, counters: WorkerCounters, core: EngineCore
    ) {
        self.requestedInFlight = inFlight
        self.index = index
        self.groupIndex = groupIndex
        self.name = name
        self.requestedCPUs = requestedCPUs
        self.requestedScheduling = requestedScheduling
        self.stackSize = stackSize
        self.stackPrefaultBytes = stackPrefaultBytes
        self.ioPriority = ioPriority
        self.ring = ring
        self.completions = completions
        self.counters = counters
        self.core = core
        self.coreRef = Unmanaged.passUnretained(core)
        self.slabRef = core.slabRef
    }

    var tid: pid_t { pid_t(truncatingIfNeeded: counters[.tid]) }

    /// The thread's body.
    func run(_ birth: NativeThread.BirthErrors = NativeThread.BirthErrors()) {
        counters.set(.tid, UInt64(rtio_gettid()))
        counters.set(.firstCPU, UInt64(max(0, rtio_sched_getcpu())))
        // Applied means read back: what the kernel holds, not what was asked.
        birthErrors = birth
        do { try IOPriority.apply(ioPriority, tid: 0) } catch { ioPriorityError = error }
        birthIOPriority = IOPriority.read(tid: 0)
        birthScheduling = ThreadScheduling.read(tid: 0)
        birthCPUs = try? SystemTopology.allowedCPUs(tid: 0)
        prefaultStack()
        // On this thread: the kernel runs the ring's task work on its submitter.
        var io: WorkerIORing?
        if requestedInFlight > 1 {
            do throws(Errno) {
                io = try WorkerIORing(capacity: requestedInFlight)
                ioRingCapacity = io!.capacity
            } catch {
                ioRingError = error
            }
        }
        if let hook = core.workerStartHook { hook.function(hook.context) }
        counters.set(.state, WorkerCounters.State.spinning.rawValue)
        started.store(1, ordering: .releasing)
        loop(io)
        counters.set(.lastCPU, UInt64(max(0, rtio_sched_getcpu())))
        counters.set(.state, WorkerCounters.State.exited.rawValue)
    }

    /// Touches `stackPrefaultBytes` below the current frame so later calls never fault.
    @inline(never)
    private func prefaultStack() {
        guard stackPrefaultBytes > 0 else { return }
        var anchor: UInt8 = 0
        withUnsafeMutablePointer(to: &anchor) { p in
            let top = UnsafeMutableRawPointer(p) - 512
            let page = 4096
            var offset = 0
            // Stores below the stack pointer in this thread's own mapped stack:
            // nothing lives there yet; the kernel allocates (and, under
            // mlockall, locks) each page now instead of on first use.
            while offset < stackPrefaultBytes {
                (top - offset).storeBytes(of: 0, as: UInt8.self)
                offset += page
            }
        }
    }

    private func loop(_ io: WorkerIORing?) {
        let budget = core.spinBudgetNanoseconds
        let core = self.core
        let ring = self.ring
        let counters = self.counters
        // The real-time share caps spinning plus serving per 10 ms window; see
        // RealtimeShare for what the worker does past it.
        //
        // Clock reads: one per request boundary. `now` is the last reading;
        // the end of a request is the start of the next one in a batch (unless
        // a notification syscall came between), and the reading that ends a
        // wait starts the first request of the batch. The spin loop reads the
        // clock only while idle.
        var now = rtio_monotonic_ns()
        var share = RealtimeShare(
            allowanceNanoseconds: core.realtimeAllowanceNanoseconds, rest: core.realtimeShareRest,
            sliceNanoseconds: core.realtimeShareRestSliceNanoseconds, counters: counters, now: now)
        // When the worker last finished a request: the spin budget counts idle
        // time from here, across spins and timed rests alike.
        var idleSince = now
        var servedMeanwhile = false
        // When publishReadsBySubmitters last ran.
        var readsPublishedAt = now
        while true {
            share.account(now: now)
            if now &- readsPublishedAt >= Self.bookkeepingNanoseconds {
                publishReadsBySubmitters()
                readsPublishedAt = now
            }
            let plan = share.planWait(
                budget: budget, idleNanoseconds: Int64(bitPattern: now &- idleSince), now: now,
                hasWork: ring.hasPublishedEntryRelaxed() || (io.map { $0.inFlight > 0 && $0.hasCompletion } ?? false))
            let ready: Bool
            if let io, io.inFlight > 0 {
                // Requests in the kernel: wait for one of them or for a submit
                // (WorkerIORing, "Sleeping with requests in flight"); never a
                // timed rest, which no completion could end. A full ring waits
                // for completions only; shutdown(.cancel) cancels what is in flight.
                if core.cancelQueued { io.cancelAll() }
                var spin: Int64 = 0
                if case .wait(let s, _) = plan { spin = s }
                var slept = false
                io.wait(for: ring, acceptEntries: !io.isFull, spinNanoseconds: spin,
                        interrupted: { core.stopRequested && core.cancelQueued && !io.isCancelling }, willSleep: {
                    share.willSleep(now: rtio_monotonic_ns(), restoringPolicy: true)
                    publishParked()
                    slept = true
                })
                if slept { publishWoken() }
                now = rtio_monotonic_ns()
                share.waitEnded(now: now)
                if reapCompletions(io, now: now) { idleSince = now }
                publishInFlight(io)
                ready = !io.isFull && ring.hasPublishedEntry()
            } else {
                switch plan {
                case .wait(let spin, let timeout):
                    var parked = false
                    ready = ring.waitForEntries(
                        spinNanoseconds: spin, timeoutNanoseconds: timeout, shouldStop: { core.stopRequested },
                        willPark: {
                            share.willSleep(now: rtio_monotonic_ns(), restoringPolicy: true)
                            publishParked()
                            parked = true
                        })
                    if parked { publishWoken() }
                case .rest(let deadline):
                    // Not announced: submits during the rest make no syscall; the
                    // rest ends by itself at the deadline (one slice at most).
                    share.willSleep(now: now, restoringPolicy: false)
                    servedMeanwhile = ring.wakeup.rest(until: deadline, unless: { ring.hasPublishedEntry() })
                    ready = ring.hasPublishedEntry()
                }
                now = rtio_monotonic_ns()
                if case .rest = plan { publishReadsBySubmitters() }
                if servedMeanwhile {
                    // Submitters ran reads themselves during the rest (reads during a
                    // rest): busy, not idle — the spin budget starts again.
                    idleSince = now
                    servedMeanwhile = false
                }
                share.waitEnded(now: now)
            }
            if !ready {
                if core.stopRequested && ring.approximateCount == 0 && (io?.inFlight ?? 0) == 0 { return }
                continue
            }
            counters.set(.state, WorkerCounters.State.busy.rawValue)
            // A completion is announced before the next request's service
            // starts, never after the whole batch: a fast read must not wait
            // behind a slow fsync queued after it. Consecutive announcements
            // cost one flag load each while the host has not re-armed.
            var unannounced = false
            // With a ring, at most what it has room for: the rest stays queued.
            let room = io.map { $0.capacity - $0.inFlight } ?? Self.batch
            let taken = ring.drain(maximum: min(Self.batch, room)) { value in
                if unannounced {
                    // A notification that wrote the eventfd took a syscall:
                    // the next request starts after it, not at the last end.
                    if core.notifyHost() { now = rtio_monotonic_ns() }
                    unannounced = false
                }
                // Read per request: a shutdown(.cancel) that lands mid-batch cancels the rest of it.
                if process(UInt32(truncatingIfNeeded: value), cancel: core.cancelQueued, startedAt: &now, io: io) {
                    unannounced = true
                }
                share.chargeServing(now: now, moreWork: ring.hasPublishedEntryRelaxed())
            }
            if unannounced && core.notifyHost() { now = rtio_monotonic_ns() }
            if let io, io.inFlight > 0 {
                // One io_uring_enter for the batch; page-cache reads complete inside it.
                io.submit(wait: false)
                now = rtio_monotonic_ns()
                _ = reapCompletions(io, now: now)
                publishInFlight(io)
            }
            idleSince = now
            // Queue depth without reading the producers' line: a batch that
            // stopped short of `batch` found the ring empty (0 waiting); only a
            // full batch (backlog, amortised over `batch` requests) asks the ring.
            let waiting = taken < min(Self.batch, room) ? 0 : UInt64(ring.approximateCount)
            if counters[.queueDepth] != waiting { counters.set(.queueDepth, waiting) }
            let depth = UInt64(taken) &+ waiting
            if depth > counters[.maxQueueDepth] { counters.set(.maxQueueDepth, depth) }
            counters.set(.state, WorkerCounters.State.spinning.rawValue)
        }
    }

    /// For rtio-admin: the worker is about to sleep until a submit (or a completion) wakes it.
    @inline(__always)
    private func publishParked() {
        counters.set(.state, WorkerCounters.State.parked.rawValue)
        // A syscall follows: the count is current however long the sleep.
        publishReadsBySubmitters()
    }

    /// For rtio-admin: back from such a sleep; the wake-up word's counts.
    @inline(__always)
    private func publishWoken() {
        counters.set(.state, WorkerCounters.State.spinning.rawValue)
        counters.set(.parks, UInt64(ring.wakeup.parks))
        counters.set(.wakes, UInt64(ring.wakeup.wakes))
    }

    /// For rtio-admin: the requests hosts ran themselves for this worker (reads
    /// during its rests, ``IOEngine/serveHere(_:)``) — the reaper's count, on
    /// the reaper's line: read after each rest and every 10 ms at most, never
    /// per request.
    @inline(__always)
    private func publishReadsBySubmitters() {
        let reads = UInt64(core.readsBySubmitters(worker: index))
        if counters[.readsBySubmitters] != reads { counters.set(.readsBySubmitters, reads) }
    }

    /// For placement, rtio-admin and snapshots: requests in `io` now, and the most at once.
    @inline(__always)
    private func publishInFlight(_ io: WorkerIORing) {
        if ring.requestsInKernel != io.inFlight { ring.setRequestsInKernel(io.inFlight) }
        let n = UInt64(io.inFlight)
        if counters[.inFlight] != n { counters.set(.inFlight, n) }
        if n > counters[.maxInFlight] { counters.set(.maxInFlight, n) }
    }

    /// Delivers every completion `io` has ready, then notifies the host once.
    /// Returns true if there was any.
    @inline(__always)
    private func reapCompletions(_ io: WorkerIORing, now: UInt64) -> Bool {
        var any = false
        var pushed = false
        io.reap { slot, result in
            any = true
            let record = slabRef._withUnsafeGuaranteedRef { $0.record(slot) }
            let final = RequestExecution.complete(record, kernelResult: result)
            if final == -Int(ECANCELED) {
                record.pointee.flags |= RequestFlags.cancelled
                counters.add(.cancelled, 1)
            }
            if finish(slot, record, result: final, start: record.pointee.startedAt, end: now, threadBusy: false) {
                pushed = true
            }
        }
        if pushed { _ = core.notifyHost() }
        return any
    }

    /// How often the loop refreshes figures kept elsewhere (10 ms).
    static let bookkeepingNanoseconds: UInt64 = 10_000_000

    /// Requests taken per batch before the loop re-plans (share, stop).
    static let batch = 32

    /// Runs (or cancels) one request and delivers its completion. Returns true
    /// if the completion went to the host's completion ring.
    ///
    /// `now`: in, the clock reading at which service starts (the previous
    /// request's end, or the end of the wait); out, the reading at which it
    /// ended. One clock read per request.
    @inline(__always)
    private func process(_ slot: UInt32, cancel: Bool, startedAt now: inout UInt64, io: WorkerIORing?) -> Bool {
        // Queued → running, or skip a request the host cancelled: its completion
        // was delivered by the canceller (RequestState). No clock read on that path.
        switch slabRef._withUnsafeGuaranteedRef({ $0.beginServiceReporting(slot) }) {
        case .run: break
        case .cancelled:
            counters.add(.cancelled, 1)
            counters.add(.completed, 1)
            counters.add(.errors, 1)
            return false
        case .servedHere:
            // Run by a waiting host (IOEngine.serveHere): counted where its completion is consumed.
            return false
        }
        let record = slabRef._withUnsafeGuaranteedRef { $0.record(slot) }
        let start = now
        if !cancel, let io, io.prepare(slot, record) {
            // In the worker's io_uring: completed by reapCompletions. Placement
            // sees it at once (the pop has just taken it off the queue count).
            record.pointee.startedAt = start
            ring.setRequestsInKernel(io.inFlight)
            return false
        }
        // Placement reads the mark (see IOEngine.leastLoaded); it shares the
        // line tryPop has just written.
        ring.markServiceStarted(at: start)
        let result: Int
        if cancel {
            result = -Int(ECANCELED)
            record.pointee.flags |= RequestFlags.cancelled
            counters.add(.cancelled, 1)
        } else {
            result = RequestExecution.run(record)
        }
        let end = rtio_monotonic_ns()
        ring.markServiceEnded()
        now = end
        return finish(slot, record, result: result, start: start, end: end, threadBusy: true)
    }

    /// Records `result` and delivers the completion. Returns true if it went
    /// to the host's completion ring. `threadBusy`: the thread ran the request
    /// itself (false for a request completed by the worker's io_uring).
    @inline(__always)
    private func finish(
        _ slot: UInt32, _ record: UnsafeMutablePointer<RequestRecord>, result: Int, start: UInt64, end: UInt64,
        threadBusy: Bool
    ) -> Bool {
        // Line 0 (RequestRecord), for direct delivery; the host's reap reads
        // the completion ring's cell instead.
        record.pointee.result = result
        counters.add(.completed, 1)
        if result < 0 { counters.add(.errors, 1) }
        if threadBusy { counters.add(.busyNanoseconds, end &- start) }
        let submitted = record.pointee.submittedAt
        counters.record(queueWait: start > submitted ? start &- submitted : 0, service: end &- start)

        slabRef._withUnsafeGuaranteedRef { $0.markFinished(slot) }  // before delivery: afterwards the slot may be reused
        if coreRef._withUnsafeGuaranteedRef({ $0.deliverDirectly(slot, worker: index) }) { return false }
        completions.push(slot, result: result, tag: record.pointee.tag)
        return true
    }
}
