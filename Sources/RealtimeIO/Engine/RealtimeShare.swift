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
/// empty ring it parks (``EngineConfiguration/RealtimeShareRest/park``) or polls demoted
/// (``EngineConfiguration/RealtimeShareRest/demote``). Its policy comes back when the next window
/// starts, or before it parks.
///
/// ## Invariants
/// - Owned and used by one worker thread only (its run loop); nothing here is
///   shared. `counters` is that worker's block (single writer: this thread).
/// - Only real-time running is charged: time spent demoted is not.
/// - Serving is charged per request, so a batch of long requests cannot run
///   past the share, or past a window's end, unnoticed.
struct RealtimeShare {
    static let windowNanoseconds: Int64 = 10_000_000

    private let allowance: Int64
    private let capped: Bool
    private let demoteToRest: Bool
    private let counters: WorkerCounters
    private var windowStart: UInt64
    /// Real-time running charged in the current window.
    private var spent: Int64 = 0
    /// Time up to which running has been charged.
    private var mark: UInt64
    /// Set by ``willPark(now:)``: the wait in progress parked.
    private var parked = false
    private var rest = RestByDemotion()

    init(allowanceNanoseconds: Int64, rest: EngineConfiguration.RealtimeShareRest, counters: WorkerCounters, now: UInt64) {
        allowance = allowanceNanoseconds
        capped = allowanceNanoseconds < Self.windowNanoseconds
        demoteToRest = rest == .demote
        self.counters = counters
        windowStart = now
        mark = now
    }

    /// True while the worker runs demoted.
    var isDemoted: Bool { rest.isDemoted }

    /// Charges everything since the last charge as real-time running (all of
    /// it: spinning, serving and the loop's own overhead — only parked and
    /// demoted time are free), starting a new window first if the current one
    /// is over.
    @inline(__always)
    mutating func account(now: UInt64) {
        if Int64(now &- windowStart) >= Self.windowNanoseconds {
            windowStart = now
            spent = 0
            if rest.isDemoted || demoteToRest {
                // A new window gives a demoted worker its policy back.
                rest.windowStarted()
                counters.set(.restoreFailures, rest.restoreFailures)
            }
        } else if capped && !rest.isDemoted {
            spent += Int64(now &- mark)
        }
        mark = now
    }

    /// The next wait: how long to spin before parking, and a timeout (-1:
    /// none) that brings the worker back to demote instead of parking.
    /// `hasWork`: a request is already waiting. Call after ``account(now:)``.
    @inline(__always)
    mutating func planWait(budget: Int64, hasWork: Bool) -> (spin: Int64, timeout: Int64) {
        guard capped else { return (budget, -1) }
        let left = rest.isDemoted ? 0 : allowance - spent
        if left <= 0 {
            // Share used. Saturated (work waiting) or a polling rest: run on as
            // SCHED_OTHER until the window ends; otherwise park at once.
            if (demoteToRest && budget > 0) || hasWork, demote() {
                return (demoteToRest ? budget : 0, -1)
            }
            return (0, -1)
        }
        let spin = min(budget, left)
        if demoteToRest && budget > 0 && spin < budget && rest.mayDemote {
            // The share, not the budget, ends this spin: come back to demote.
            return (spin, spin)
        }
        return (spin, -1)
    }

    /// Just before parking: charges the spin, and parks real-time, so the
    /// wake-up preempts whatever runs on the CPU.
    @inline(__always)
    mutating func willPark(now: UInt64) {
        account(now: now)
        parked = true
        guard rest.isDemoted else { return }
        rest.restore()
        counters.set(.restoreFailures, rest.restoreFailures)
    }

    /// After a wait: parked time is free; a wait that only spun is charged.
    @inline(__always)
    mutating func waitEnded(now: UInt64) {
        if parked {
            parked = false
            mark = now
            if Int64(now &- windowStart) >= Self.windowNanoseconds { account(now: now) }
        } else {
            account(now: now)
        }
    }

    /// Charges serving one request, finished at `now`. Past the share with
    /// more requests waiting (saturation) it demotes at once, so the rest of
    /// the backlog runs as SCHED_OTHER. With none waiting it does not: a
    /// worker woken for one request at a time is not hogging its CPU, and a
    /// demote/restore pair per request would add two syscalls to each.
    @inline(__always)
    mutating func chargeServing(now: UInt64, moreWork: @autoclosure () -> Bool) {
        account(now: now)
        if capped && !rest.isDemoted && spent >= allowance && moreWork() { _ = demote() }
    }

    private mutating func demote() -> Bool {
        let wasDemoted = rest.isDemoted
        guard rest.demote() else { return false }
        if !wasDemoted { counters.set(.demotions, rest.demotions) }
        return true
    }
}
