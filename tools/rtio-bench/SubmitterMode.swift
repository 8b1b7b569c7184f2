// How the open-loop submitter (latency, interference) behaves between arrivals.
//
// * `fifo:N`: SCHED_FIFO priority N, the way a real-time host runs its critical thread. Between
//   arrivals it sleeps (clock_nanosleep, absolute CLOCK_MONOTONIC deadline, never spins); while
//   reads are in flight it waits the way the engine's users wait (`reapCompletions(wait: true)`:
//   io_uring_wait_cqe, aio_suspend, the prealloc driver's 20 µs spin + poll on the eventfd...).
//   The policy is applied after the engine's `start` and after the pin, so threads an engine
//   creates in `start` do not inherit it; threads created later by the submitter (glibc's AIO
//   helpers inside aio_read, io-wq workers forked from its context) do, as in a real host.
// * `other`: the same sleeping loop at SCHED_OTHER.
// * `spin`: SCHED_OTHER, polls for completions and busy-waits (cpu_relax) until the next
//   arrival: the loop rtio-bench used before, kept for comparison.
//
// Default for latency: `fifo:20` when the process may use SCHED_FIFO (root, CAP_SYS_NICE or
// RLIMIT_RTPRIO >= 20), otherwise `other` with a printed note. Interference defaults to `other`
// (its hogs would not interfere with a SCHED_FIFO submitter). Throughput and burst are closed
// loops that always wait with `wait: true` and stay SCHED_OTHER.

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser

enum SubmitterMode: Equatable, CustomStringConvertible {
    case fifo(priority: Int32)
    case other
    case spin

    static let defaultFIFOPriority: Int32 = 20

    /// Parses `fifo:N`, `other`, `spin`.
    init(parsing text: String) throws {
        let t = text.lowercased()
        if t == "other" { self = .other; return }
        if t == "spin" { self = .spin; return }
        if t.hasPrefix("fifo:"), let n = Int32(t.dropFirst(5)), (1...99).contains(n) {
            self = .fifo(priority: n); return
        }
        throw ValidationError("bad --submitter '\(text)': use fifo:N (N in 1...99), other, or spin")
    }

    var description: String {
        switch self {
        case let .fifo(p): return "fifo:\(p) (sleeps between arrivals)"
        case .other: return "other (sleeps between arrivals)"
        case .spin: return "spin (SCHED_OTHER, busy-waits between arrivals)"
        }
    }

    var sleeps: Bool { self != .spin }

    /// True when this process may set SCHED_FIFO at `priority`: tried for real on a short-lived
    /// thread-local change (set, then restore SCHED_OTHER), so root, CAP_SYS_NICE and RLIMIT_RTPRIO
    /// all count.
    static func fifoPermitted(priority: Int32) -> Bool {
        var old = sched_param()
        let oldPolicy = sched_getscheduler(0)
        sched_getparam(0, &old)
        var p = sched_param(sched_priority: priority)
        guard pthread_setschedparam(pthread_self(), SCHED_FIFO, &p) == 0 else { return false }
        _ = pthread_setschedparam(pthread_self(), oldPolicy, &old)
        return true
    }

    /// The latency scenario's default, plus a note when it had to fall back.
    static func latencyDefault() -> (SubmitterMode, note: String?) {
        if fifoPermitted(priority: defaultFIFOPriority) { return (.fifo(priority: defaultFIFOPriority), nil) }
        return (.other, "submitter: SCHED_FIFO not permitted (needs root, CAP_SYS_NICE or RLIMIT_RTPRIO >= \(defaultFIFOPriority)); using --submitter other")
    }

    /// Applies the policy to the calling thread. Returns an error text on failure.
    func apply() -> String? {
        guard case let .fifo(priority) = self else { return nil }
        var p = sched_param(sched_priority: priority)
        let rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &p)
        return rc == 0 ? nil : "SCHED_FIFO \(priority) refused: \(String(cString: strerror(rc)))"
    }

    /// Back to SCHED_OTHER (before the engine is stopped and the thread ends).
    func restore() {
        guard case .fifo = self else { return }
        var p = sched_param(sched_priority: 0)
        _ = pthread_setschedparam(pthread_self(), SCHED_OTHER, &p)
    }
}

/// Sleeps until the absolute CLOCK_MONOTONIC time `deadlineNs` (the clock rtio_monotonic_ns reads).
@inline(__always)
func sleepUntil(_ deadlineNs: UInt64) {
    var ts = timespec(tv_sec: Int(deadlineNs / 1_000_000_000), tv_nsec: Int(deadlineNs % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
}
