import CRealtimeIOShims
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Waiting for completions on the host's thread: spin, re-arm, re-check, sleep.
///
/// ## The order, and why no completion is missed
/// 1. **Spin** (optional, bounded by `spin`): re-check the completion rings
///    with a CPU pause hint, reading the clock every 32 checks; no syscall.
/// 2. **Re-arm** (``EngineCore/rearmHostNotification(_:)``): consume a
///    pending notification, clear the notified flag, sequentially consistent fence.
/// 3. **Run host events** (``processEvents()``): a `hostLoop` spawn requested
///    before the re-arm is seen here — its notification may just have been
///    consumed by step 2.
/// 4. **Re-check** the rings (sequentially consistent loads).
/// 5. **Sleep** in `poll(2)` on ``completionFD`` until it is readable or the
///    deadline passes; then back to 3 and 4, and to 2 if still nothing.
///
/// A worker pushes a completion, fences, then writes the eventfd if the flag
/// is clear. The fence of step 2 pairs with the worker's: either the worker
/// sees the cleared flag and writes (step 5 wakes), or step 4 sees its push.
/// Sleeping without step 2, or without step 4 after it, loses a completion
/// posted between the last empty check and the sleep.
extension IOEngine {

    /// Points inside ``waitForCompletions(deadline:spinNanoseconds:probe:)``,
    /// for tests that post a completion at each of them.
    enum WaitStep: Equatable {
        /// The spin phase found nothing; the re-arm comes next.
        case beforeRearm
        /// The re-check after the re-arm found nothing; `poll` comes next.
        case beforeSleep
        /// `poll` returned: readable (`timedOut == false`) or the deadline passed.
        case woke(timedOut: Bool)
    }

    /// Waits until completions are ready for ``reap(maximum:rearm:_:)``, for at
    /// most `timeout` (nil: no limit), without consuming them.
    ///
    /// Spins for up to `spin` without a syscall, then re-arms ``completionFD``
    /// and sleeps on it; a completion posted at any moment — also between the
    /// last empty check and the sleep — ends the wait. Runs ``processEvents()``
    /// (on-demand spawns of a `hostLoop` pool) before each check, so it works
    /// in every ``EngineMode``.
    ///
    /// Returns true when completions are ready; false when `timeout` passed, or
    /// when the engine is shut down and every completion was reaped (none can
    /// come any more). With ``EngineConfiguration/CompletionDelivery/workerHandler(_:)``
    /// no completion ever reaches the rings: it only times out.
    ///
    /// Allocates nothing. Syscalls: none while spinning or when completions
    /// are ready; otherwise a `read` of the eventfd (only if a notification is
    /// pending) and one `poll` per sleep. Keep `spin` short on a SCHED_FIFO
    /// host thread: spinning holds its CPU.
    ///
    /// Call it from the thread that reaps; like `reap`, one waiter at a time.
    public func waitForCompletions(timeout: Duration? = nil, spin: Duration = .zero) -> Bool {
        waitForCompletions(deadline: Self.deadline(timeout), spinNanoseconds: max(0, spin.nanoseconds))
    }

    /// Waits as ``waitForCompletions(timeout:spin:)`` does, then delivers up to
    /// `maximum` completions to `body` as ``reap(maximum:rearm:_:)`` does.
    /// Returns how many were delivered: 0 when `timeout` passed, or when the
    /// engine is shut down and nothing is left (check ``isShutDown``).
    ///
    /// The loop a host otherwise writes itself:
    /// ```swift
    /// while running {
    ///     engine.reap(waitingUpTo: .milliseconds(100), spinFor: .microseconds(20)) { c in … }
    /// }
    /// ```
    @discardableResult
    public func reap(
        waitingUpTo timeout: Duration? = nil, spinFor spin: Duration = .zero, maximum: Int = .max,
        _ body: (IOCompletion) -> Void
    ) -> Int {
        let deadline = Self.deadline(timeout)
        let spinNanoseconds = max(0, spin.nanoseconds)
        while true {
            // No re-arm here: the wait re-arms before it sleeps.
            let delivered = reap(maximum: maximum, rearm: false, body)
            if delivered > 0 { return delivered }
            if !waitForCompletions(deadline: deadline, spinNanoseconds: spinNanoseconds) {
                return reap(maximum: maximum, rearm: false, body)
            }
        }
    }

    /// Waits and reaps as ``reap(waitingUpTo:spinFor:maximum:_:)`` does and,
    /// while it spins, serves `request` on this thread (``serveHere(_:)``) once
    /// no worker has taken it: at once if its worker rests past its real-time
    /// share, or when `serveAfter` has passed since the call began. So a host
    /// that waits for one request never waits out a worker's rest slice, or a
    /// worker whose CPU is taken by an interrupt or the hypervisor.
    ///
    /// Serving happens only within `spin` (a host that sleeps is not waiting
    /// on its CPU); a request a worker already took completes normally.
    /// `request` must not have been reaped yet. The served request's system
    /// calls run on this thread: use it for requests that cannot block for
    /// long, such as page-cached reads.
    @discardableResult
    public func reap(
        waitingUpTo timeout: Duration? = nil, spinFor spin: Duration, maximum: Int = .max,
        serving request: RequestHandle, after serveAfter: Duration = .microseconds(2),
        _ body: (IOCompletion) -> Void
    ) -> Int {
        let delivered = reap(maximum: maximum, rearm: false, body)
        if delivered > 0 { return delivered }
        var serving: Serving? = Serving(engine: self, request: request, after: serveAfter)
        let deadline = Self.deadline(timeout)
        let spinNanoseconds = max(0, spin.nanoseconds)
        while true {
            let ready = waitForCompletions(deadline: deadline, spinNanoseconds: spinNanoseconds, serving: &serving)
            let delivered = reap(maximum: maximum, rearm: false, body)
            if delivered > 0 || !ready { return delivered }
        }
    }

    /// The request a waiting host serves itself, and when.
    struct Serving {
        let request: RequestHandle
        /// The worker it was queued on (nil: on demand, or not this engine's).
        let worker: Int?
        let serveAt: UInt64
        var done = false

        init(engine: IOEngine, request: RequestHandle, after: Duration) {
            self.request = request
            serveAt = rtio_monotonic_ns() &+ UInt64(max(0, after.nanoseconds))
            // Read once, not per spin: the record's line is the worker's while it serves.
            worker = engine.queuedWorker(request)
        }

        /// While spinning at `now`: serves the request if it is due.
        mutating func check(_ engine: IOEngine, now: UInt64) {
            guard !done, now >= serveAt || worker.map(engine.workerRests) == true else { return }
            done = true
            _ = engine.serveHere(request)
        }
    }

    /// `CLOCK_MONOTONIC` ns at which a wait of `timeout` ends; nil for none.
    static func deadline(_ timeout: Duration?) -> UInt64? {
        guard let timeout else { return nil }
        let ns = timeout.nanoseconds
        return ns <= 0 ? rtio_monotonic_ns() : rtio_monotonic_ns() &+ UInt64(ns)
    }

    /// The wait; see the extension's comment for the order of its steps.
    ///
    /// `interruptFD` (≥ 0: an fd the caller owns, e.g. an eventfd): the sleep
    /// also ends when it becomes readable, and the wait then returns false
    /// (``CompletionSequence``'s stop). Not consumed here.
    func waitForCompletions(
        deadline: UInt64?, spinNanoseconds: Int64, interruptFD: Int32 = -1, probe: (WaitStep) -> Void = { _ in }
    ) -> Bool {
        var none: Serving? = nil
        return waitForCompletions(
            deadline: deadline, spinNanoseconds: spinNanoseconds, interruptFD: interruptFD, serving: &none, probe: probe)
    }

    /// The wait, serving `serving`'s request while it spins (see ``Serving``).
    func waitForCompletions(
        deadline: UInt64?, spinNanoseconds: Int64, interruptFD: Int32 = -1, serving: inout Serving?,
        probe: (WaitStep) -> Void = { _ in }
    ) -> Bool {
        processEvents()
        if hasReadyCompletions() { return true }
        if spinNanoseconds > 0 {
            let spinEnd = rtio_monotonic_ns() &+ UInt64(spinNanoseconds)
            while true {
                for _ in 0..<32 {
                    rtio_cpu_relax()
                    if hasReadyCompletions() { return true }
                }
                let now = rtio_monotonic_ns()
                serving?.check(self, now: now)
                if now >= spinEnd || deadline.map({ now >= $0 }) == true { break }
                processEvents()
            }
        }
        probe(.beforeRearm)
        while true {
            core.rearmHostNotification()
            processEvents()
            if hasReadyCompletions() { return true }
            // Every worker joined and its completions are in the rings: nothing can come.
            // (Also keeps the wait from spinning on the fd shutdown leaves readable.)
            if core.lifecycle.pointee.load(ordering: .sequentiallyConsistent) == .closed { return false }
            var timeoutMilliseconds: Int32 = -1
            if let deadline {
                let now = rtio_monotonic_ns()
                if now >= deadline { return false }
                // Rounded up: a sleep never ends before the deadline and then spins to it.
                timeoutMilliseconds = Int32(clamping: (deadline - now + 999_999) / 1_000_000)
            }
            probe(.beforeSleep)
            // A negative fd in the second entry is ignored by poll.
            var fds = (pollfd(fd: core.eventFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: interruptFD, events: Int16(POLLIN), revents: 0))
            // EINTR: go round again (re-arm and re-check are cheap and idempotent).
            let ready = withUnsafeMutableBytes(of: &fds) { raw in
                let p = raw.baseAddress!.assumingMemoryBound(to: pollfd.self)
                return poll(p, 2, timeoutMilliseconds)
            }
            probe(.woke(timedOut: ready == 0))
            processEvents()
            if hasReadyCompletions() { return true }
            if ready == 0 || fds.1.revents != 0 { return false }
        }
    }

    /// True if a completion ring or the on-demand queue holds a completion.
    /// Sequentially consistent loads (the re-check of the wait handshake); the
    /// on-demand queue takes its mutex (on-demand and hybrid modes only).
    @inline(__always)
    func hasReadyCompletions() -> Bool {
        var w = 0
        let count = workers.count
        while w < count {
            if !completionRings[w]._withUnsafeGuaranteedRef({ $0.isEmpty }) { return true }
            w += 1
        }
        // Completions the canceller delivered: a waiter that consumed their
        // notification in its re-arm must find them here, or it sleeps.
        if !core.postedRef._withUnsafeGuaranteedRef({ $0.isEmpty }) { return true }
        if let queue = onDemandCompletions { return !queue.isEmpty }
        return false
    }
}
