import CRealtimeIOShims

/// One worker's real-time share accounting (``EngineConfiguration/realtimeSharePercent``):
/// how long, in the current 10 ms window, it has run as configured — spinning
/// or serving — and what it does once the share is used.
///
/// Without the cap a steadily fed or saturated SCHED_FIFO worker owns its CPU:
/// kernel threads there starve, and the kernel's RT throttle
/// (`sched_rt_runtime_us`, 95 % of each second) stops the worker for tens of
/// ms. Past its share the worker rests until the window ends: requests still
/// waiting are served demoted to SCHED_OTHER (``RestByDemotion``); with an
/// empty ring it rests as ``EngineConfiguration/realtimeShareRest`` says:
/// timed sleeps it ends itself (``EngineConfiguration/RealtimeShareRest/slices``,
/// the default), a park (``EngineConfiguration/RealtimeShareRest/park``) or
/// polling demoted (``EngineConfiguration/RealtimeShareRest/demote``). Its
/// policy comes back when the next window starts, or before it parks.
///
/// ## Resting under load versus idle
/// The spin budget measures idleness in wall time since the last request
/// ended (`idleNanoseconds` in ``planWait(budget:idleNanoseconds:now:hasWork:)``),
/// whatever the worker did meanwhile — spin, rest or both. Under a steady
/// load a request arrives within the budget, so a `.slices` rest ends in the
/// next slice and the worker never announces a park: submitters make no
/// syscall. Requests that submitters ran themselves during a rest
/// (``EngineConfiguration/submitterReadsDuringRest``) never reach the worker;
/// the rest reports them (``ConsumerWakeup/rest(until:unless:)``) and the
/// worker's idle clock starts again, so it does not park after a busy rest.
/// Once the budget has passed with nothing to do the worker is idle
/// and parks for real (announced, so the next submit wakes it): an idle
/// engine costs no CPU.
///
/// ## Invariants
/// - Owned and used by one worker thread only (its run loop); nothing here is
///   shared. `counters` is that worker's block (single writer: this thread).
/// - Only real-time running is charged: time spent demoted, parked or in a
///   timed rest is not.
/// - Serving is charged per request, so a batch of long requests cannot run
///   past the share, or past a window's end, unnoticed.
/// - The wall clock only proposes; the thread's CPU clock decides. Charging
///   reads the wall clock (cheap), which counts a request blocked in the
///   kernel — a device read, a pipe — as running. Before the share is acted
///   on, `spent` is re-based on the CPU time the kernel billed
///   (``verifySpent()``), so a worker that mostly waits for its device
///   is never rested or demoted for time it did not run.
struct RealtimeShare {
    static let windowNanoseconds: Int64 = 10_000_000

    /// What the worker's next wait is.
    enum WaitPlan: Equatable {
        /// Spin up to `spin` ns, then park (announced; woken by a submit) —
        /// unless `timeout` (≥ 0) ends the wait first, without parking if
        /// `timeout == spin`.
        case wait(spin: Int64, timeout: Int64)
        /// A timed rest until `deadline` (`CLOCK_MONOTONIC` ns): the worker
        /// sleeps without announcing it; no submit wakes it.
        case rest(deadline: UInt64)
    }

    private let allowance: Int64
    /// Real-time running past which a worker with requests waiting demotes.
    /// `.park`/`.demote`: the allowance. `.slices`: the allowance plus a third
    /// of the rest, so the one or two requests that gather during a slice are
    /// served real-time (a demoted worker waits behind every SCHED_OTHER
    /// thread on its CPU: measured, ms tails on a loaded machine), while a
    /// real backlog still demotes well below the kernel's 95 % throttle.
    private let demoteAt: Int64
    private let capped: Bool
    private let mode: EngineConfiguration.RealtimeShareRest
    private let slice: Int64
    private let counters: WorkerCounters
    private var windowStart: UInt64
    /// Real-time running charged in the current window.
    private var spent: Int64 = 0
    /// Time up to which running has been charged.
    private var mark: UInt64
    /// Set by ``willSleep(now:restoringPolicy:)``: the wait in progress sleeps (free time).
    private var sleeping = false
    private var rest = RestByDemotion()
    /// The thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`) when the window began.
    private var cpuAtWindowStart: UInt64
    /// CPU time used demoted (SCHED_OTHER, outside the RT throttle) in the
    /// current window, up to `demotedCPUSince`. CPU, not wall, time: a demoted
    /// worker blocked in a device read uses none.
    private var demotedCPU: Int64 = 0
    /// The thread's CPU clock when the current demotion began (valid while demoted).
    private var demotedCPUSince: UInt64 = 0
    /// What the window started with in `spent`: the previous window's uncharged CPU time.
    private var carriedIn: Int64 = 0
    /// The CPU clock confirmed the share used in this window (it only grows within one).
    private var shareConfirmed = false

    init(
        allowanceNanoseconds: Int64, rest: EngineConfiguration.RealtimeShareRest, sliceNanoseconds: Int64 = 10_000,
        counters: WorkerCounters, now: UInt64
    ) {
        allowance = allowanceNanoseconds
        demoteAt = rest == .slices ? allowanceNanoseconds + (Self.windowNanoseconds - allowanceNanoseconds) / 3 : allowanceNanoseconds
        capped = allowanceNanoseconds < Self.windowNanoseconds
        mode = rest
        slice = max(1, sliceNanoseconds)
        self.counters = counters
        windowStart = now
        mark = now
        cpuAtWindowStart = allowanceNanoseconds < Self.windowNanoseconds ? rtio_thread_cpu_ns() : 0
    }

    /// True while the worker runs demoted.
    var isDemoted: Bool { rest.isDemoted }

    private var demoteToRest: Bool { mode == .demote }

    /// Charges everything since the last charge as real-time running (all of
    /// it: spinning, serving and the loop's own overhead — only sleeping and
    /// demoted time are free), starting a new window first if the current one
    /// is over.
    @inline(__always)
    mutating func account(now: UInt64) {
        if Int64(now &- windowStart) >= Self.windowNanoseconds {
            windowStart = now
            carriedIn = capped ? uncharged() : 0
            spent = carriedIn
            shareConfirmed = false
            if rest.isDemoted || demoteToRest {
                // A new window gives a demoted worker its policy back.
                rest.windowStarted()
                counters.set(.restoreFailures, rest.restoreFailures)
            }
        } else if capped && !rest.isDemoted {
            spent += Int64(now &- mark)
            if spent >= allowance && !shareConfirmed { verifySpent() }
        }
        mark = now
    }

    /// The wall clock says the share is used: re-bases `spent` on the CPU time
    /// the kernel billed this thread in the window (one syscall). Blocked time
    /// drops out, so the share runs on; uncharged overhead comes in. Once the
    /// CPU clock confirms the share (or leaves less than ``confirmMargin``,
    /// which bounds the re-checks to a hundred per window), it is not read
    /// again until the next window.
    private mutating func verifySpent() {
        let used = Int64(bitPattern: rtio_thread_cpu_ns() &- cpuAtWindowStart)
        let real = max(0, carriedIn + used - demotedCPU)
        spent = real
        if real >= allowance - Self.confirmMargin { shareConfirmed = true; spent = max(real, allowance) }
    }

    /// Closer than this to the allowance, the CPU clock's verdict is taken as "used".
    static let confirmMargin: Int64 = 100_000

    /// The next wait at `now`, after ``account(now:)``. `idleNanoseconds`:
    /// time since the worker last finished a request (or started);
    /// `hasWork`: a request is already waiting.
    @inline(__always)
    mutating func planWait(budget: Int64, idleNanoseconds: Int64, now: UInt64, hasWork: Bool) -> WaitPlan {
        if mode == .slices { return planSlices(budget: budget, idle: idleNanoseconds, now: now, hasWork: hasWork) }
        guard capped else { return .wait(spin: budget, timeout: -1) }
        let left = rest.isDemoted ? 0 : allowance - spent
        if left <= 0 {
            // Share used. Saturated (work waiting) or a polling rest: run on as
            // SCHED_OTHER until the window ends; otherwise park at once.
            if (demoteToRest && budget > 0) || hasWork, demote() {
                return .wait(spin: demoteToRest ? budget : 0, timeout: -1)
            }
            return .wait(spin: 0, timeout: -1)
        }
        let spin = min(budget, left)
        if demoteToRest && budget > 0 && spin < budget && rest.mayDemote {
            // The share, not the budget, ends this spin: come back to demote.
            return .wait(spin: spin, timeout: spin)
        }
        return .wait(spin: spin, timeout: -1)
    }

    /// `.slices`: spin within the budget and the share; past the share rest
    /// in timed slices; past the budget (idle) park.
    @inline(__always)
    private mutating func planSlices(budget: Int64, idle: Int64, now: UInt64, hasWork: Bool) -> WaitPlan {
        let remaining = budget - idle
        // Idle (or no budget): park, announced. `willSleep` restores the policy first.
        if remaining <= 0 && !hasWork { return .wait(spin: 0, timeout: -1) }
        guard capped else { return .wait(spin: max(0, remaining), timeout: -1) }
        let left = rest.isDemoted ? 0 : allowance - spent
        if left <= 0 {
            // Work waiting: serve it; past `demoteAt` (a backlog) demoted, one syscall per window.
            if hasWork {
                if spent >= demoteAt { _ = demote() }
                return .wait(spin: 0, timeout: -1)
            }
            let windowEnd = windowStart &+ UInt64(Self.windowNanoseconds)
            let deadline = min(now &+ UInt64(slice), windowEnd, now &+ UInt64(max(0, remaining)))
            return .rest(deadline: deadline)
        }
        if left < remaining {
            // The share, not the budget, ends this spin: come back to rest, not park.
            return .wait(spin: left, timeout: left)
        }
        return .wait(spin: remaining, timeout: -1)
    }

    /// Just before the worker sleeps (parks, or rests in a timed slice):
    /// charges the spin so far; the sleep is free. A park restores the
    /// real-time policy first (`restoringPolicy`), so the wake-up preempts
    /// whatever runs on the CPU; a timed rest keeps a demotion to the
    /// window's end (no syscall per slice).
    @inline(__always)
    mutating func willSleep(now: UInt64, restoringPolicy: Bool) {
        account(now: now)
        sleeping = true
        guard restoringPolicy, rest.isDemoted else { return }
        demotedCPU += Int64(bitPattern: rtio_thread_cpu_ns() &- demotedCPUSince)
        rest.restore()
        counters.set(.restoreFailures, rest.restoreFailures)
    }

    /// After a wait: sleeping time is free; a wait that only spun is charged.
    @inline(__always)
    mutating func waitEnded(now: UInt64) {
        if sleeping {
            sleeping = false
            mark = now
            if Int64(now &- windowStart) >= Self.windowNanoseconds { account(now: now) }
        } else {
            account(now: now)
        }
    }

    /// Charges serving one request, finished at `now`. Past the share (with
    /// `.slices`, past `demoteAt`) with more requests waiting (saturation) it
    /// demotes at once, so the rest of the backlog runs as SCHED_OTHER. With none waiting it does not: a
    /// worker woken for one request at a time is not hogging its CPU, and a
    /// demote/restore pair per request would add two syscalls to each.
    @inline(__always)
    mutating func chargeServing(now: UInt64, moreWork: @autoclosure () -> Bool) {
        account(now: now)
        if capped && !rest.isDemoted && spent >= demoteAt && moreWork() { _ = demote() }
    }

    private mutating func demote() -> Bool {
        let wasDemoted = rest.isDemoted
        guard rest.demote() else { return false }
        if !wasDemoted {
            counters.set(.demotions, rest.demotions)
            demotedCPUSince = rtio_thread_cpu_ns()
        }
        return true
    }

    /// At a window's end: the real-time CPU time the window used beyond what
    /// was charged, carried into the next window as already spent.
    ///
    /// Charging reads the wall clock around spins and requests, so it misses
    /// what the kernel bills between them: the timer interrupt, context switch
    /// and wake-up of every rest slice (~5 µs each on a VM: ~8 % of the CPU
    /// with 10 µs slices over a 15 % rest), a request's page faults in the
    /// middle of a wait. Uncharged, a worker that spends its 85 % share ran at
    /// 93–95 % of its CPU in the kernel's eyes and reached the RT throttle
    /// (`sched_rt_runtime_us`, 95 %): the throttle then stopped it for the
    /// rest of the second, ms-long stalls (measured: `rt_time` 953 ms).
    /// Reading the thread's CPU clock once per window (one syscall per 10 ms)
    /// and carrying the difference keeps the real use at the share.
    /// Demoted time is SCHED_OTHER, outside the throttle: not counted.
    private mutating func uncharged() -> Int64 {
        let cpu = rtio_thread_cpu_ns()
        if rest.isDemoted { demotedCPU += Int64(bitPattern: cpu &- demotedCPUSince); demotedCPUSince = cpu }
        let used = Int64(bitPattern: cpu &- cpuAtWindowStart)
        // What this window charged itself (without what it carried in) against what it used.
        let overhead = used - (spent - carriedIn) - demotedCPU
        cpuAtWindowStart = cpu
        demotedCPU = 0
        return min(max(0, overhead), allowance)
    }
}
