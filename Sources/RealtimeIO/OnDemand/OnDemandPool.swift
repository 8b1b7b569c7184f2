import CRealtimeIOShims
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
import RealtimeIOLinux
#endif

/// A thread pool that creates its workers on demand, for hosts that cannot
/// (or need not) preallocate: the fallback mode and the overflow of an
/// ``IOEngine``.
///
/// ## Synopsis
/// ```swift
/// let pool = try OnDemandPool(slab: slab, configuration: .init(spawner: .hostLoop),
///                             onCompletion: { slot in … },        // on the worker thread
///                             onSpawnRequested: { wakeMyLoop() })  // hostLoop only
/// try pool.submit(slot)
/// // in the host loop, on the host thread:
/// pool.processPendingSpawns()
/// pool.shutdown(.drain)
/// ```
///
/// ## Description
/// Requests are slot indices of a ``RequestSlab``; a worker runs the slot's
/// record, stores `result`, and hands the slot to
/// `onCompletion` on its own thread. The queue and every counter live under one
/// `Mutex` (priority-inheriting on Linux); idle workers sleep on a futex
/// semaphore and exit after `idleTimeout`.
///
/// Thread creation is QEMU's posix-aio-compat after its 2011 latency fix; the
/// section "The 2011 algorithm" below reads top to bottom:
///
/// - Counters (``State``): `current` (workers alive or owed, `cur_threads`),
///   `idle` (`idle_threads`), `new` (backlog still to create, `new_threads`)
///   and `pending` (created, not yet running, `pending_threads`).
/// - ``submit(_:)``: with no idle worker and `current < maxThreads` it adds one
///   to `current` and to `new`, and only if `pending == 0` schedules the spawn
///   bottom half. The submitting thread never creates a thread: no worker
///   inherits its CPU affinity and a burst never pays `pthread_create` on it.
/// - The bottom half (``processPendingSpawns()`` on the host's loop thread, or
///   the pool's spawner thread) runs `do_spawn_thread`: under the lock, one
///   thread moves from `new` to `pending`; the lock is dropped while the thread
///   is created.
/// - Each newborn first takes `pending -= 1` and runs `do_spawn_thread` itself
///   (the chain), then takes work. One bottom half creates one thread; the rest
///   of a burst's backlog is created by newborns, one at a time: never more than
///   one `pthread_create` in flight, never one under the lock.
///
/// Workers are created with every signal blocked (the creator blocks all
/// signals around `pthread_create`; the newborn inherits the mask) and, unless
/// ``Configuration/threadAttributes`` says otherwise, inherit the creator's
/// affinity and scheduling: that of the host loop or spawner thread, or of an
/// earlier worker — never of a submitter.
///
/// ## Placement
/// With ``Spawner/hostLoop`` inheriting from the host loop thread is the
/// design (QEMU's fix): the host places its loop, and its I/O threads follow
/// it. The ``Spawner/spawnerThread`` has no such owner: it is born with the
/// process's allowed CPUs (``Configuration/spawnerCPUs``), so its workers are
/// too, whatever the mask of the thread that created the pool.
///
/// ## Thread creation failure
/// If `pthread_create` fails (EAGAIN under RLIMIT_NPROC, ENOMEM), the pool
/// undoes `pending` and `current` for that thread and drops the rest of the
/// backlog (each would fail the same way and nobody would retry; the next
/// submit starts a new one). Queued requests stay queued while any worker
/// exists or is being born; when none does, each queued request completes
/// with `-errno` of the failure (normally `-EAGAIN`). Nothing is lost.
///
/// ## Shutdown
/// ``shutdown(_:)`` refuses new submits, runs (`.drain`) or completes with
/// ECANCELED (`.cancel`) every queued request, waits until every worker — also
/// one being born — has exited, and joins all of them.
///
/// ## Instrumentation
/// ``statistics`` are exact counts for tests and benchmarks; a creation is
/// counted before `pthread_create` returns (and uncounted if it fails).
///
/// ## Thread safety
/// ``submit(_:)`` from any thread; ``processPendingSpawns()`` from the host
/// loop (any thread, but it is where workers inherit their attributes from);
/// ``shutdown(_:)`` from any thread but a worker.
package final class OnDemandPool: @unchecked Sendable {
    package let configuration: Configuration
    let slab: RequestSlab
    private let state: AnnotatedMutex<State>
    private let idleWake = FutexSemaphore()
    private let spawnerWake = FutexSemaphore()
    private let spawnerStop = Atomic<Bool>(false)
    /// Mirrors `State.bottomHalfScheduled` (written under the lock) so that
    /// ``processPendingSpawns()`` costs one load when nothing is scheduled.
    private let bottomHalfHint = Atomic<Bool>(false)
    private var spawnerThread: NativeThread?
    private let onCompletion: @Sendable (UInt32) -> Void
    private let onSpawnRequested: (@Sendable () -> Void)?
    private let idleTimeoutNanoseconds: UInt64
    private let workerAttributes: ThreadAttributes

    /// Creates a pool (and, with `.spawnerThread`, its spawner thread). No worker
    /// exists until the first submit.
    ///
    /// - Parameters:
    ///   - slab: the records submitted slot indices refer to; outlives the pool.
    ///   - onCompletion: runs on the worker thread once per submitted slot (but
    ///     for one cancelled by the host, whose canceller delivered it), after
    ///     `result` is set (`-ECANCELED`
    ///     and the record flagged cancelled on `shutdown(.cancel)`, `-EAGAIN` if no
    ///     worker could ever be created). Runs on the shutdown or spawning thread in
    ///     those two cases. It must not block.
    ///   - onSpawnRequested: `.hostLoop`: called (on the submitting thread) when the
    ///     bottom half has been scheduled; wake the host loop so it calls
    ///     ``processPendingSpawns()``.
    /// - Throws: `Errno` when `maxThreads < 1` (EINVAL) or the spawner thread cannot be created.
    package init(
        slab: RequestSlab, configuration: Configuration = Configuration(),
        onCompletion: @escaping @Sendable (UInt32) -> Void, onSpawnRequested: (@Sendable () -> Void)? = nil
    ) throws(Errno) {
        guard configuration.maxThreads >= 1, configuration.idleTimeout > .zero else { throw .invalidArgument }
        self.configuration = configuration
        self.slab = slab
        self.onCompletion = onCompletion
        self.onSpawnRequested = onSpawnRequested
        let (seconds, attoseconds) = configuration.idleTimeout.components
        idleTimeoutNanoseconds = UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
        var attributes = configuration.threadAttributes ?? ThreadAttributes(stackSize: 256 * 1024)
        if attributes.name == nil { attributes.name = "rtio-od" }
        workerAttributes = attributes
        state = AnnotatedMutex(State(capacity: slab.count, maxThreads: configuration.maxThreads))
        if configuration.spawner == .spawnerThread {
            // The stand-in for QEMU's main loop in hosts without one. Born with the
            // process's allowed CPUs, not the mask of the thread that creates the pool
            // (which may be pinned anywhere); it inherits that thread's scheduling.
            let spawnerAttributes = ThreadAttributes(
                cpus: configuration.spawnerCPUs ?? ProcessCPUs.currentUnpinned(), stackSize: 256 * 1024, name: "rtio-od-spawn")
            spawnerThread = try Self.withSignalsBlocked { () throws(Errno) in
                try NativeThread.spawn(attributes: spawnerAttributes) { [self] in
                    spawnerLoop()
                }
            }.get()
        }
    }

    deinit {
        // Workers hold the pool strongly, so this runs only once none is left;
        // stop the spawner thread if `shutdown` was never called.
        shutdown(.drain)
    }

    // MARK: - The 2011 algorithm
    //
    // QEMU posix-aio-compat.c after "fix latency issues" (2011), piece by piece:
    //   qemu_paio_submit + spawn_thread  ->  submit(_:)
    //   spawn_thread_bh_fn (main loop)   ->  runBottomHalf()
    //   do_spawn_thread                  ->  doSpawnThread(_:) under the lock, createWorker() with it dropped
    //   aio_thread's first lines         ->  workerMain(), the newborn's chain

    /// Queues the request in `slot` (owned by the caller until now; by the pool
    /// until `onCompletion`). Never creates a thread.
    /// - Throws: ``SubmitError/shutDown`` after ``shutdown(_:)`` began; nothing was queued.
    package func submit(_ slot: UInt32) throws(SubmitError) {
        enum Outcome { case refused, queued, wakeIdle, scheduledBottomHalf }
        let outcome = state.withLock { s -> Outcome in
            guard s.lifecycle == .running else { return .refused }
            let pushed = s.queue.push(slot)  // QTAILQ_INSERT_TAIL(&request_list, ...)
            precondition(pushed, "on-demand queue overflow: slot \(slot) submitted twice")
            // `if (idle_threads == 0 && cur_threads < max_threads) spawn_thread();`
            // A woken worker leaves `idle` only when it runs, so several submits in a
            // row may all see the same idle worker and spawn nothing: that worker then
            // runs them in turn. Kept as in the patch.
            guard s.idle == 0 && s.current < configuration.maxThreads else { return s.idle > 0 ? .wakeIdle : .queued }
            // spawn_thread(): cur_threads++, new_threads++ ...
            s.current += 1
            s.new += 1
            s.peak = max(s.peak, s.current)
            // ... and `if (!pending_threads) qemu_bh_schedule(new_thread_bh)`: a thread
            // being born creates the backlog itself (the chain), so the submitter never does.
            guard s.pending == 0, !s.bottomHalfScheduled else { return .queued }
            s.bottomHalfScheduled = true
            bottomHalfHint.store(true, ordering: .releasing)
            return .scheduledBottomHalf
        }
        switch outcome {
        case .refused: throw .shutDown
        case .queued: break
        case .wakeIdle: idleWake.post()  // cond_signal(&cond)
        case .scheduledBottomHalf:
            switch configuration.spawner {
            case .hostLoop: onSpawnRequested?()
            case .spawnerThread: spawnerWake.post()
            }
        }
    }

    /// spawn_thread_bh_fn, run by the main loop (host loop, spawner thread or
    /// shutdown): creates at most one worker, on the calling thread, which the
    /// worker inherits its CPUs and scheduling from. Returns 0 or 1.
    private func runBottomHalf() -> Int {
        guard bottomHalfHint.load(ordering: .acquiring) else { return 0 }
        let take = state.withLock { s -> Bool in
            guard s.bottomHalfScheduled else { return false }
            s.bottomHalfScheduled = false
            bottomHalfHint.store(false, ordering: .relaxed)
            return Self.doSpawnThread(&s)
        }
        return take && createWorker() ? 1 : 0
    }

    /// do_spawn_thread, first half (under the lock): `new_threads--`,
    /// `pending_threads++`. Counted as created before `pthread_create` is even
    /// called, so a shutdown or a test never misses a thread being born.
    private static func doSpawnThread(_ s: inout State) -> Bool {
        guard s.new > 0 else { return false }
        s.new -= 1
        s.pending += 1
        s.created += 1
        return true
    }

    /// do_spawn_thread, second half, with the lock dropped: pthread_create with
    /// every signal blocked, so the worker starts with all signals blocked.
    private func createWorker() -> Bool {
        let created = Self.withSignalsBlocked { () throws(Errno) in
            try NativeThread.spawn(attributes: workerAttributes) { [self] in workerMain() }
        }
        guard case .failure(let error) = created else { return true }
        let failQueue = state.withLock { s -> Bool in
            Self.creationFailed(&s, error)
            return s.current == 0
        }
        if failQueue { failQueuedForNoThread() }
        return false
    }

    /// aio_thread: the newborn leaves `pending` and continues the chain
    /// (do_spawn_thread) before it takes any work.
    private func workerMain() {
        let tid = rtio_gettid()
        let chain = state.withLock { s -> Bool in
            s.pending -= 1
            s.liveTIDs.append(tid)
            return Self.doSpawnThread(&s)
        }
        if chain { _ = createWorker() }
        serve(tid: tid)
    }

    // MARK: - Spawner, workers, failure

    /// `.hostLoop`: the spawn bottom half (``runBottomHalf()``) if one is
    /// scheduled; cheap when nothing is (one atomic load, no lock). Returns the
    /// number of threads created (0 or 1).
    ///
    /// `.spawnerThread`: does nothing and returns 0 — the spawner thread runs the
    /// bottom half, so a host thread with a narrow CPU mask never creates a worker.
    @discardableResult
    package func processPendingSpawns() -> Int {
        guard configuration.spawner == .hostLoop else { return 0 }
        return runBottomHalf()
    }

    /// True while a bottom half is scheduled and has not run.
    package var hasPendingSpawns: Bool { state.withLock { $0.bottomHalfScheduled } }

    private func spawnerLoop() {
        while true {
            _ = spawnerWake.wait(untilNanoseconds: nil)
            if spawnerStop.load(ordering: .acquiring) { return }
            _ = runBottomHalf()
        }
    }

    /// The worker loop: run queued requests; idle up to `idleTimeout`; exit when
    /// the pool stops or the timeout passes with nothing queued.
    private func serve(tid: pid_t) {
        enum Step { case run(UInt32), wait, exit(previous: pthread_t?) }
        var countedIdle = false
        var justCompleted = false
        var timedOut = false
        var idleDeadline: UInt64 = 0
        while true {
            let step = state.withLock { s -> Step in
                if countedIdle { s.idle -= 1 }
                if justCompleted { s.completed += 1 }
                // The queue first: a worker that timed out while a request arrived runs it.
                if let slot = s.queue.pop() { return .run(slot) }
                if s.lifecycle != .running || timedOut {
                    s.current -= 1
                    if let i = s.liveTIDs.firstIndex(of: tid) { s.liveTIDs.swapAt(i, s.liveTIDs.count - 1); s.liveTIDs.removeLast() }
                    let previous = s.lastExited
                    s.lastExited = pthread_self()
                    return .exit(previous: previous)
                }
                s.idle += 1
                return .wait
            }
            justCompleted = false
            switch step {
            case .run(let slot):
                countedIdle = false
                timedOut = false
                idleDeadline = 0
                // Queued → running, or skip a request the host cancelled (its
                // completion was delivered by the canceller; RequestState).
                if slab.beginService(slot) {
                    let result = RequestExecution.run(slab.record(slot))
                    finish(slot, result: result, cancelled: false)
                }
                // Counted at the next lock round trip (no extra lock per request), so
                // `completed` never runs ahead of what the owner has been handed.
                justCompleted = true
            case .wait:
                countedIdle = true
                if idleDeadline == 0 { idleDeadline = rtio_monotonic_ns() &+ idleTimeoutNanoseconds }
                timedOut = !idleWake.wait(untilNanoseconds: idleDeadline)
            case .exit(let previous):
                // The previous leaver has dropped the lock and is returning: this join is short.
                if let previous { pthread_join(previous, nil) }
                return
            }
        }
    }

    /// Stores the outcome in the record and hands the slot to the owner.
    private func finish(_ slot: UInt32, result: Int, cancelled: Bool) {
        let record = slab.record(slot)
        record.pointee.result = result
        if cancelled { record.pointee.flags |= RequestFlags.cancelled }
        slab.markFinished(slot)  // before delivery: afterwards the slot may be reused
        onCompletion(slot)
    }

    /// Undoes the counters of one failed creation and drops the rest of the backlog.
    private static func creationFailed(_ s: inout State, _ error: Errno) {
        s.created -= 1
        s.pending -= 1
        s.failures += 1
        s.lastCreationError = error
        // The failed thread and the backlog behind it are no longer owed.
        s.current -= 1 + s.new
        s.new = 0
    }

    /// No worker exists or is being born, and none could be created: complete
    /// what is queued with the creation error. One slot per lock round trip, so a
    /// concurrent submit that starts a new backlog (current > 0) stops this.
    private func failQueuedForNoThread() {
        while true {
            let next = state.withLock { s -> (UInt32, Errno)? in
                guard s.current == 0, let slot = s.queue.pop() else { return nil }
                s.failedForNoThread += 1
                s.completed += 1
                return (slot, s.lastCreationError ?? .resourceTemporarilyUnavailable)
            }
            guard let (slot, error) = next else { return }
            guard slab.beginService(slot) else { continue }
            finish(slot, result: -Int(error.rawValue), cancelled: false)
        }
    }

    private static func withSignalsBlocked(_ body: () throws(Errno) -> NativeThread) -> Result<NativeThread, Errno> {
        var all = sigset_t()
        var old = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        do { return .success(try body()) } catch { return .failure(error) }
    }

    // MARK: - Shutdown

    /// Refuses new submits, runs (`.drain`) or cancels with ECANCELED (`.cancel`)
    /// every queued request, waits for every worker (also any being born) to
    /// exit, joins them all and stops the spawner thread. The backlog is dropped
    /// unless no worker exists to drain the queue (then this thread runs the
    /// bottom half and the chain creates them). Idempotent.
    package func shutdown(_ mode: ShutdownMode = .drain) {
        let first = state.withLock { s -> Bool in
            guard s.lifecycle == .running else { return false }
            s.lifecycle = mode == .drain ? .draining : .cancelling
            // The backlog is only needed to drain a queue that no worker (running or
            // being born) would otherwise run; the chain would otherwise keep creating
            // threads that exit at once.
            if mode == .cancel || s.current - s.new > 0 {
                s.current -= s.new
                s.new = 0
            }
            return true
        }
        guard first else { return }
        if mode == .cancel {
            while let slot = state.withLock({ s -> UInt32? in
                guard let slot = s.queue.pop() else { return nil }
                s.completed += 1
                return slot
            }) {
                guard slab.beginService(slot) else { continue }
                finish(slot, result: -Int(ECANCELED), cancelled: true)
            }
        }
        // Idle workers wake, see the lifecycle and exit; busy ones exit when the queue is empty.
        idleWake.post(configuration.maxThreads)
        // A bottom half scheduled before the lifecycle changed may never run on the
        // host again: run it here (the chain creates the rest). Polling is fine here:
        // shutdown is cold, and the wait is bounded by the requests still running.
        while true {
            _ = runBottomHalf()
            let (current, idle) = state.withLock { ($0.current, $0.idle) }
            if current == 0 { break }
            if idle > 0 { idleWake.post(idle) }
            usleep(200)
        }
        if let spawnerThread {
            spawnerStop.store(true, ordering: .releasing)
            spawnerWake.post()
            spawnerThread.join()
        }
        let last = state.withLock { s -> pthread_t? in
            s.lifecycle = .stopped
            defer { s.lastExited = nil }
            return s.lastExited
        }
        if let last { pthread_join(last, nil) }
    }

    // MARK: - Instrumentation

    package var statistics: Statistics {
        state.withLock { s in
            Statistics(
                currentThreads: s.current, idleThreads: s.idle, pendingThreads: s.pending, newThreads: s.new,
                peakThreads: s.peak, threadsCreated: s.created, creationFailures: s.failures,
                failedForNoThread: s.failedForNoThread, queued: s.queue.count, completed: s.completed)
        }
    }

    /// Linux tids of the workers running now.
    package var workerThreadIDs: [pid_t] { state.withLock { Array($0.liveTIDs) } }

    /// The error of the last failed `pthread_create`, if any.
    package var lastCreationError: Errno? { state.withLock { $0.lastCreationError } }

    /// True once ``shutdown(_:)`` began.
    package var isShutDown: Bool { state.withLock { $0.lifecycle != .running } }
}

// MARK: - Types

extension OnDemandPool {
    /// Who runs the spawn bottom half (the public setting of ``EngineConfiguration/OnDemand``).
    package typealias Spawner = EngineConfiguration.OnDemand.Spawner

    package struct Configuration: Sendable {
        /// Most workers alive at once (≥ 1).
        package var maxThreads: Int
        /// How long an idle worker waits for work before it exits.
        package var idleTimeout: Duration
        /// Explicit attributes for workers (beyond QEMU's patch); nil inherits the
        /// creator's CPUs and scheduling, 256 KiB stack, name `rtio-od`.
        package var threadAttributes: ThreadAttributes?
        package var spawner: Spawner
        /// `.spawnerThread`: the spawner thread's birth mask (and so its workers');
        /// nil reads the process's allowed CPUs (``ProcessCPUs/unpinned``) at init.
        package var spawnerCPUs: [Int]?

        package init(
            maxThreads: Int = 64, idleTimeout: Duration = .seconds(10), threadAttributes: ThreadAttributes? = nil,
            spawner: Spawner = .hostLoop, spawnerCPUs: [Int]? = nil
        ) {
            self.maxThreads = maxThreads
            self.idleTimeout = idleTimeout
            self.threadAttributes = threadAttributes
            self.spawner = spawner
            self.spawnerCPUs = spawnerCPUs
        }
    }

    /// A consistent snapshot of the pool's counters (taken under its lock).
    package struct Statistics: Sendable, Equatable {
        /// Workers alive, being born, or owed by the backlog (QEMU's `cur_threads`).
        package var currentThreads: Int
        /// Workers waiting for work (`idle_threads`).
        package var idleThreads: Int
        /// Created, not yet running (`pending_threads`).
        package var pendingThreads: Int
        /// Backlog still to create (`new_threads`).
        package var newThreads: Int
        /// Highest `currentThreads` seen.
        package var peakThreads: Int
        /// Workers successfully created over the pool's life.
        package var threadsCreated: Int
        /// `pthread_create` failures.
        package var creationFailures: Int
        /// Requests completed with an error because no worker could be created.
        package var failedForNoThread: Int
        /// Requests waiting in the queue.
        package var queued: Int
        /// Requests run (or cancelled) and handed to `onCompletion`, plus
        /// requests skipped because the host cancelled them (``RequestSlab/beginService(_:)``).
        package var completed: Int
    }

    enum Lifecycle: Equatable { case running, draining, cancelling, stopped }

    /// Everything the lock guards.
    struct State: ~Copyable {
        var queue: SlotFIFO
        var lifecycle: Lifecycle = .running
        var current = 0
        var idle = 0
        var new = 0
        var pending = 0
        var peak = 0
        var created = 0
        var failures = 0
        var failedForNoThread = 0
        var completed = 0
        var lastCreationError: Errno? = nil
        /// Set under the lock when the bottom half is scheduled, cleared by whoever runs it.
        var bottomHalfScheduled = false
        /// Tids of running workers (capacity maxThreads, reserved at init).
        var liveTIDs: [pid_t]
        /// The last worker to exit, joined by the next one to exit or by shutdown:
        /// at most one exited worker is ever unjoined, and no thread joins itself.
        var lastExited: pthread_t? = nil

        init(capacity: Int, maxThreads: Int) {
            queue = SlotFIFO(capacity: capacity)
            liveTIDs = []
            liveTIDs.reserveCapacity(maxThreads)
        }
    }
}
