import CRealtimeIOShims
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// One worker as the kernel and its counters see it now.
///
/// "Applied" values are read back from the kernel (sched_getattr,
/// sched_getaffinity, /proc), never copied from the configuration, so they
/// show live changes made by `rtio-admin`, `chrt` or `taskset`.
public struct WorkerSnapshot: Sendable, Codable {
    public var index: Int
    public var name: String
    public var group: String
    public var tid: Int32
    public var requestedCPUs: CPUList?
    public var appliedCPUs: CPUList?
    public var requestedScheduling: SchedulingPolicy
    public var appliedScheduling: SchedulingPolicy?
    public var firstCPU: Int
    /// CPU the thread last ran on (from /proc/self/task/TID/stat).
    public var lastCPU: Int?
    public var state: String
    public var submitted: Int
    public var completed: Int
    public var errors: Int
    public var cancelled: Int
    public var queueDepth: Int
    public var maxQueueDepth: Int
    public var parks: Int
    public var wakes: Int
    public var wakeSyscalls: Int
    /// Duty-cycle rests spent demoted to SCHED_OTHER (see ``DutyCycleRest``).
    public var demotions: Int
    public var busyNanoseconds: UInt64
    public var minorFaults: Int?
    public var majorFaults: Int?
    public var queueWaitHistogram: [UInt64]
    public var serviceTimeHistogram: [UInt64]
}

extension IOEngine {
    /// Snapshots of every worker (allocates; not for the I/O path).
    public func workerSnapshots() -> [WorkerSnapshot] {
        workers.map { w in
            let c = w.counters
            let tid = w.tid
            let stat = ThreadStat.read(tid: tid)
            let parkedState = c.state.description
            return WorkerSnapshot(
                index: w.index, name: w.name, group: configuration.groups[w.groupIndex].name, tid: tid,
                requestedCPUs: w.requestedCPUs, appliedCPUs: try? SystemTopology.allowedCPUs(tid: tid),
                requestedScheduling: w.requestedScheduling, appliedScheduling: ThreadScheduling.read(tid: tid),
                firstCPU: Int(c[.firstCPU]), lastCPU: stat?.processor, state: parkedState,
                submitted: w.ring.approximateCount + Int(c[.completed]), completed: Int(c[.completed]),
                errors: Int(c[.errors]), cancelled: Int(c[.cancelled]), queueDepth: w.ring.approximateCount,
                maxQueueDepth: Int(c[.maxQueueDepth]), parks: w.ring.wakeup.parks, wakes: w.ring.wakeup.wakes,
                wakeSyscalls: w.ring.wakeup.wakeSyscalls, demotions: Int(c[.demotions]), busyNanoseconds: c[.busyNanoseconds],
                minorFaults: stat?.minorFaults, majorFaults: stat?.majorFaults,
                queueWaitHistogram: c.queueWaitHistogram, serviceTimeHistogram: c.serviceTimeHistogram)
        }
    }

    /// Worker thread ids, in engine order.
    public var workerThreadIDs: [Int32] { workers.map(\.tid) }
}

/// Scheduling of a thread as the kernel reports it.
public enum ThreadScheduling {
    /// sched_getattr on `tid` (0 = calling thread); nil if the thread is gone.
    public static func read(tid: Int32) -> SchedulingPolicy? {
        var attr = rtio_sched_attr()
        guard rtio_sched_getattr(tid, &attr, 0) == 0 else { return nil }
        switch Int32(attr.sched_policy) {
        case SCHED_FIFO: return .fifo(priority: Int(attr.sched_priority))
        case SCHED_RR: return .rr(priority: Int(attr.sched_priority))
        default: return .other(nice: Int(attr.sched_nice))
        }
    }

    /// sched_setattr on `tid`: applies `policy` (priority or nice) to a live thread.
    public static func apply(_ policy: SchedulingPolicy, tid: Int32) throws(Errno) {
        var attr = rtio_sched_attr()
        attr.sched_policy = UInt32(policy.kernelPolicy)
        attr.sched_priority = UInt32(policy.realtimePriority)
        if case .other(let nice) = policy { attr.sched_nice = Int32(nice) }
        let rc = rtio_sched_setattr(tid, &attr, 0)
        guard rc == 0 else { throw Errno(rawValue: -rc) }
    }
}

/// Fields of /proc/self/task/TID/stat (or /proc/PID/task/TID/stat).
public struct ThreadStat: Sendable {
    public var minorFaults: Int
    public var majorFaults: Int
    /// CPU last run on.
    public var processor: Int
    public var policy: Int
    public var realtimePriority: Int
    public var nice: Int

    /// Reads `/proc/<pid>/task/<tid>/stat` (pid nil = self).
    public static func read(tid: Int32, pid: Int32? = nil) -> ThreadStat? {
        let path = "/proc/\(pid.map(String.init) ?? "self")/task/\(tid)/stat"
        guard let text = try? KernelFile.contents(of: path) else { return nil }
        return parse(text)
    }

    /// Parses the stat line: fields after the parenthesised command name.
    public static func parse(_ text: String) -> ThreadStat? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let rest = text[text.index(after: close)...].split(separator: " ")
        // rest[0] is field 3 (state); field n is rest[n - 3].
        func field(_ n: Int) -> Int? { n - 3 < rest.count ? Int(rest[n - 3]) : nil }
        guard let minflt = field(10), let majflt = field(12), let nice = field(19),
              let processor = field(39), let rtprio = field(40), let policy = field(41) else { return nil }
        return ThreadStat(minorFaults: minflt, majorFaults: majflt, processor: processor, policy: policy,
                          realtimePriority: rtprio, nice: nice)
    }
}
