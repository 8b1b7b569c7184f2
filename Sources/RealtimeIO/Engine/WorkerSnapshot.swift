import RealtimeIOLinux

/// One worker as the kernel and its counters see it now.
///
/// "Applied" values are read back from the kernel (sched_getattr,
/// sched_getaffinity, /proc), never copied from the configuration, so they
/// show live changes made by `rtio-admin`, `chrt` or `taskset`.
public struct WorkerSnapshot: Sendable, Codable {
    /// Position among all the engine's workers.
    public var index: Int
    /// Thread name, `rtio-<group>-<n>`.
    public var name: String
    /// The worker's group name.
    public var group: String
    /// Kernel thread id.
    public var tid: Int32
    /// CPUs the configuration asked for; nil = any.
    public var requestedCPUs: CPUList?
    /// CPUs the thread may run on now (sched_getaffinity); nil if it could not be read.
    public var appliedCPUs: CPUList?
    /// Scheduling the configuration asked for.
    public var requestedScheduling: SchedulingPolicy
    /// Scheduling now (sched_getattr), including SCHED_BATCH, SCHED_IDLE and
    /// SCHED_DEADLINE if someone changed it; nil if it could not be read.
    public var appliedScheduling: SchedulingPolicy?
    /// I/O priority the configuration asked for (nil: class none, from the CPU scheduling).
    public var requestedIOPriority: IOPriority?
    /// I/O priority now (ioprio_get); nil for class none or if it could not be read.
    public var appliedIOPriority: IOPriority?
    /// CPU the worker first ran on.
    public var firstCPU: Int
    /// CPU the thread last ran on (from /proc/self/task/TID/stat).
    public var lastCPU: Int?
    /// `starting`, `spinning`, `parked`, `busy` or `exited`.
    public var state: String
    /// Requests submitted to this worker (completed plus queued).
    public var submitted: Int
    /// Requests completed.
    public var completed: Int
    /// Completed requests that failed.
    public var errors: Int
    /// Requests cancelled before they ran.
    public var cancelled: Int
    /// Requests waiting in the worker's ring now.
    public var queueDepth: Int
    /// The deepest the ring has been, as the worker sees it without reading
    /// the producers' line: the most requests one batch took plus those still
    /// waiting when it ended. An upper bound — requests that arrived while a
    /// batch ran count in it.
    public var maxQueueDepth: Int
    /// Requests in the worker's own io_uring now (``EngineConfiguration/WorkerGroup/inFlight``
    /// above 1; 0 otherwise). Not in ``queueDepth`` nor ``completed``.
    public var inFlight: Int
    /// The most requests the worker's io_uring has held at once, as seen after each of its
    /// submits and reaps (a request that completes inside its submit is not counted).
    public var maxInFlight: Int
    /// Times the worker went to sleep on its ring.
    public var parks: Int
    /// Times a submitter woke the worker.
    public var wakes: Int
    /// Wake-ups that needed a futex system call.
    public var wakeSyscalls: Int
    /// Real-time-share rests spent demoted to SCHED_OTHER (see ``EngineConfiguration/RealtimeShareRest``).
    public var demotions: Int
    /// Requests queued for this worker that hosts ran themselves: reads
    /// during its rests (``EngineConfiguration/submitterReadsDuringRest``) and
    /// requests served by ``IOEngine/serveHere(_:)``, counted as they are
    /// reaped (or delivered to the worker handler); not in ``completed``.
    public var readsBySubmitters: Int
    /// Time spent executing requests, in nanoseconds.
    public var busyNanoseconds: UInt64
    /// Minor page faults of the thread (/proc); nil if unreadable.
    public var minorFaults: Int?
    /// Major page faults of the thread (/proc); nil if unreadable.
    public var majorFaults: Int?
    /// Log-linear (HDR-style) buckets of the time requests waited in the ring: 16 exact buckets for 0-15 ns, then 16 sub-buckets per power of two (bucket width ≤ 6.25 % of its values).
    public var queueWaitHistogram: [UInt64]
    /// Buckets of the time requests took to execute (same layout as ``queueWaitHistogram``).
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
                requestedIOPriority: configuration.groups[w.groupIndex].ioPriority, appliedIOPriority: IOPriority.read(tid: tid) ?? nil,
                firstCPU: Int(c[.firstCPU]), lastCPU: stat?.processor, state: parkedState,
                submitted: w.ring.approximateCount + Int(c[.inFlight]) + Int(c[.completed]), completed: Int(c[.completed]),
                errors: Int(c[.errors]), cancelled: Int(c[.cancelled]), queueDepth: w.ring.approximateCount,
                maxQueueDepth: Int(c[.maxQueueDepth]), inFlight: Int(c[.inFlight]), maxInFlight: Int(c[.maxInFlight]), parks: w.ring.wakeup.parks, wakes: w.ring.wakeup.wakes,
                wakeSyscalls: w.ring.wakeup.wakeSyscalls, demotions: Int(c[.demotions]),
                readsBySubmitters: w.core.readsBySubmitters(worker: w.index), busyNanoseconds: c[.busyNanoseconds],
                minorFaults: stat?.minorFaults, majorFaults: stat?.majorFaults,
                queueWaitHistogram: c.queueWaitHistogram, serviceTimeHistogram: c.serviceTimeHistogram)
        }
    }

    /// Worker thread ids, in engine order.
    public var workerThreadIDs: [Int32] { workers.map(\.tid) }
}
