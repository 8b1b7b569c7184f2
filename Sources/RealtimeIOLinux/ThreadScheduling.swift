import CRealtimeIOShims
import SystemPackage

/// ThreadScheduling — a live thread's scheduling policy, read and changed with
/// `sched_getattr(2)` / `sched_setattr(2)` on its kernel thread id.
///
/// Reading back reports every class the kernel may show (including SCHED_BATCH,
/// SCHED_IDLE and SCHED_DEADLINE set by `chrt` or another process), so a value
/// read from a thread can be written back to it unchanged.
package enum ThreadScheduling {
    /// The scheduling of thread `tid` (0 = the calling thread); nil if there is no
    /// such thread, or its policy is one ``SchedulingPolicy`` does not describe.
    package static func read(tid: Int32) -> SchedulingPolicy? {
        var attr = rtio_sched_attr()
        guard rtio_sched_getattr(tid, &attr, 0) == 0 else { return nil }
        return policy(of: attr)
    }

    /// The ``SchedulingPolicy`` a kernel `sched_attr` describes; nil for an unknown policy number.
    package static func policy(of attr: rtio_sched_attr) -> SchedulingPolicy? {
        switch Int32(bitPattern: attr.sched_policy) {
        case SCHED_FIFO: return .fifo(priority: Int(attr.sched_priority))
        case SCHED_RR: return .rr(priority: Int(attr.sched_priority))
        case SCHED_OTHER: return .other(nice: Int(attr.sched_nice))
        case SchedulingPolicy.schedBatch: return .batch(nice: Int(attr.sched_nice))
        case SchedulingPolicy.schedIdle: return .idle
        case SchedulingPolicy.schedDeadline:
            return .deadline(
                runtime: .nanoseconds(Int64(clamping: attr.sched_runtime)),
                deadline: .nanoseconds(Int64(clamping: attr.sched_deadline)),
                period: .nanoseconds(Int64(clamping: attr.sched_period)))
        default: return nil
        }
    }

    /// The kernel `sched_attr` for `policy`.
    package static func attributes(for policy: SchedulingPolicy) -> rtio_sched_attr {
        var attr = rtio_sched_attr()
        attr.size = UInt32(MemoryLayout<rtio_sched_attr>.size)
        attr.sched_policy = UInt32(bitPattern: policy.kernelPolicy)
        attr.sched_priority = UInt32(policy.realtimePriority)
        attr.sched_nice = Int32(policy.nice ?? 0)
        if case .deadline(let runtime, let deadline, let period) = policy {
            attr.sched_runtime = UInt64(clamping: runtime.nanoseconds)
            attr.sched_deadline = UInt64(clamping: deadline.nanoseconds)
            attr.sched_period = UInt64(clamping: period.nanoseconds)
        }
        return attr
    }

    /// Applies `policy` (with its priority, nice value or reservation) to thread `tid`
    /// (0 = the calling thread).
    ///
    /// Throws the kernel's `Errno`: `EPERM` when the caller may not use the policy
    /// or priority (see ``SchedulingPolicy``'s privilege rules), `ESRCH` when there is
    /// no such thread, `EINVAL` for an out-of-range parameter, `EBUSY` when
    /// SCHED_DEADLINE admission control refuses the reservation.
    package static func apply(_ policy: SchedulingPolicy, tid: Int32) throws(Errno) {
        var attr = attributes(for: policy)
        let rc = rtio_sched_setattr(tid, &attr, 0)
        guard rc == 0 else { throw Errno(rawValue: -rc) }
    }
}
