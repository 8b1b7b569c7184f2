import CRealtimeIOShims

#if canImport(Glibc)
import Glibc
#endif

/// One worker's rest-by-demotion state: drops the calling thread from its
/// real-time policy to SCHED_OTHER for the rest of a real-time share window and
/// restores it when the next window starts.
///
/// ## Invariants
/// - Used only by the worker thread it belongs to; every call acts on the
///   calling thread (tid 0).
/// - `saved` holds the policy read from the kernel just before demoting; it
///   is restored only if the thread is still at the SCHED_OTHER nice 0 the
///   demotion set. If someone retuned the worker meanwhile (rtio-admin
///   `set-priority`), their choice stands and is not overwritten. A retune
///   that lands between that check and the restore is lost; the window is a
///   few hundred nanoseconds once per 10 ms.
struct RestByDemotion {
    private var saved = rtio_sched_attr()
    /// True while the thread runs demoted.
    private(set) var isDemoted = false
    /// Demotions so far (the worker publishes it in its counters).
    private(set) var demotions: UInt64 = 0
    /// Restores the kernel refused so far.
    private(set) var restoreFailures: UInt64 = 0

    /// Set when a demotion was declined (not real-time, or the kernel
    /// refused) until the next window: no syscall per request to ask again.
    private var declinedThisWindow = false

    /// False once this window's demotion was declined.
    var mayDemote: Bool { isDemoted || !declinedThisWindow }

    /// Demotes the calling thread if it is real-time. Returns true if it now
    /// rests demoted (and may keep polling), false if it should park instead
    /// (not real-time, or the kernel refused).
    mutating func demote() -> Bool {
        if isDemoted { return true }
        if declinedThisWindow { return false }
        declinedThisWindow = true
        var current = rtio_sched_attr()
        guard rtio_sched_getattr(0, &current, 0) == 0 else { return false }
        let policy = Int32(current.sched_policy)
        guard policy == SCHED_FIFO || policy == SCHED_RR else { return false }
        var other = rtio_sched_attr()
        other.sched_policy = UInt32(SCHED_OTHER)
        // Keep SCHED_RESET_ON_FORK and other flags as they were.
        other.sched_flags = current.sched_flags
        guard rtio_sched_setattr(0, &other, 0) == 0 else { return false }
        declinedThisWindow = false
        saved = current
        isDemoted = true
        demotions &+= 1
        return true
    }

    /// A new real-time share window: restores a demoted thread and lets the next
    /// rest ask again.
    mutating func windowStarted() {
        declinedThisWindow = false
        restore()
    }

    /// Gives the thread its real-time policy back if it still runs as the
    /// demotion left it. If the kernel refuses (the process lost CAP_SYS_NICE
    /// and RLIMIT_RTPRIO is too low), the thread stays demoted, keeps polling
    /// as SCHED_OTHER, and the next window tries again; `restoreFailures`
    /// counts the refusals.
    mutating func restore() {
        guard isDemoted else { return }
        var current = rtio_sched_attr()
        guard rtio_sched_getattr(0, &current, 0) == 0,
              Int32(current.sched_policy) == SCHED_OTHER, current.sched_nice == 0 else {
            isDemoted = false  // retuned meanwhile: that choice stands
            return
        }
        if rtio_sched_setattr(0, &saved, 0) == 0 {
            isDemoted = false
        } else {
            restoreFailures &+= 1
        }
    }
}
