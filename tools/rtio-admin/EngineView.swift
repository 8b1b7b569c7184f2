import Foundation
import RealtimeIO
import RealtimeIODiagnostics
import RealtimeIOLinux

/// One engine as `show`, `top` and `metrics` present it: the status file's
/// records and counters plus what the kernel reports for each worker thread.
/// Every optional is encoded as an explicit `null`.
struct EngineView: Encodable {
    /// What the configuration asked for (from the status file).
    struct Requested: Encodable {
        @Null var cpus: CPUList?
        @Null var scheduling: SchedulingPolicy?
        @Null var ioPriority: IOPriority?
        /// Requests the worker keeps in flight (1: one blocking call at a time).
        var inFlight: Int
    }

    /// What the kernel reports now (sched_getaffinity, sched_getattr, ioprio_get).
    struct Applied: Encodable {
        @Null var cpus: CPUList?
        @Null var scheduling: SchedulingPolicy?
        @Null var ioPriority: IOPriority?
    }

    struct Latency: Encodable {
        @Null var p50Nanoseconds: UInt64?
        @Null var p90Nanoseconds: UInt64?
        @Null var p99Nanoseconds: UInt64?
        @Null var p999Nanoseconds: UInt64?
        @Null var maxNanoseconds: UInt64?

        init(_ buckets: [UInt64]) {
            p50Nanoseconds = WorkerCounters.quantile(0.5, of: buckets)
            p90Nanoseconds = WorkerCounters.quantile(0.9, of: buckets)
            p99Nanoseconds = WorkerCounters.quantile(0.99, of: buckets)
            p999Nanoseconds = WorkerCounters.quantile(0.999, of: buckets)
            maxNanoseconds = buckets.lastIndex { $0 > 0 }.map { WorkerCounters.bucketRange($0).upper - 1 }
        }
    }

    struct Worker: Encodable {
        var name: String
        var tid: Int32
        var group: String
        var requested: Requested
        var applied: Applied
        /// Whether the applied CPUs and policy differ from the requested ones.
        var differs: Bool
        @Null var lastCPU: Int?
        var state: String
        var queueDepth: UInt64
        var maxQueueDepth: UInt64
        /// Requests in the worker's own io_uring now, and the most at once (0 without one).
        var inFlight: UInt64
        var maxInFlight: UInt64
        var completed: UInt64
        var errors: UInt64
        var cancelled: UInt64
        var parks: UInt64
        var wakes: UInt64
        var demotions: UInt64
        var restoreFailures: UInt64
        /// Requests of this worker that hosts ran themselves: reads during its rests, `serveHere` (not in `completed`).
        var readsBySubmitters: UInt64
        var busyNanoseconds: UInt64
        var serviceTime: Latency
        var queueWait: Latency
        @Null var voluntaryContextSwitches: Int?
        @Null var involuntaryContextSwitches: Int?
        @Null var minorFaults: Int?
        @Null var majorFaults: Int?
        /// Not encoded: the live histograms, for `top` and `metrics`.
        var serviceBuckets: [UInt64] = []
        var queueWaitBuckets: [UInt64] = []

        enum CodingKeys: String, CodingKey {
            case name, tid, group, requested, applied, differs, lastCPU, state, queueDepth, maxQueueDepth, inFlight, maxInFlight, completed,
                 errors, cancelled, parks, wakes, demotions, restoreFailures, readsBySubmitters, busyNanoseconds,
                 serviceTime, queueWait,
                 voluntaryContextSwitches, involuntaryContextSwitches, minorFaults, majorFaults
        }
    }

    /// An on-demand worker thread (named `rtio-od`), found under /proc/PID/task.
    struct OnDemandWorker: Encodable {
        var tid: Int32
        @Null var lastCPU: Int?
        @Null var cpus: CPUList?
        @Null var scheduling: SchedulingPolicy?
        @Null var state: String?
    }

    struct DegradationView: Encodable {
        var kind: String
        @Null var group: String?
        @Null var worker: String?
        var requested: String
        var applied: String
        var reason: String
        @Null var remedy: String?
    }

    var pid: Int32
    @Null var process: String?
    var engine: String
    /// `preallocated`, `onDemand` or `hybrid`.
    var mode: String
    var statusFile: String
    var memoryLocking: String
    var privilegePolicy: String
    var realtimeSharePercent: Int
    @Null var vmLckKiB: Int?
    var memoryLocked: Bool
    /// nil while the engine is still starting (not yet published).
    @Null var degradations: [DegradationView]?
    var onDemandMaxThreads: Int
    var onDemandWorkers: [OnDemandWorker]
    var workers: [Worker]

    init(_ reader: StatusFileReader) {
        let s = reader.summary
        pid = s.pid
        process = ProcFiles.command(pid: pid)
        engine = s.engineName
        mode = s.mode
        statusFile = s.path
        memoryLocking = s.memoryLocking
        privilegePolicy = s.privilegePolicy
        realtimeSharePercent = s.realtimeSharePercent
        let vmLck = ProcStatus.read(pid: s.pid)?.kibibytes("VmLck")
        vmLckKiB = vmLck
        memoryLocked = (vmLck ?? 0) > 0
        degradations = reader.degradations?.map {
            DegradationView(kind: $0.kind.rawValue, group: $0.group, worker: $0.worker, requested: $0.requested,
                            applied: $0.applied, reason: $0.reason, remedy: $0.remedy)
        }
        onDemandMaxThreads = s.onDemandMaxThreads
        let pid = s.pid
        onDemandWorkers = ProcFiles.threads(of: pid, named: s.onDemandThreadName).map { tid in
            let stat = ThreadStat.read(tid: tid, pid: pid)
            return OnDemandWorker(
                tid: tid, lastCPU: stat?.processor, cpus: try? SystemTopology.allowedCPUs(tid: tid),
                scheduling: ThreadScheduling.read(tid: tid), state: stat.map { String($0.state) })
        }
        workers = reader.workers.map { Self.worker(pid: pid, $0) }
    }

    static func worker(pid: Int32, _ w: StatusFileReader.Worker) -> Worker {
        let c = w.counters
        let tid = w.tid
        let alive = ProcFiles.isThread(tid, of: pid)
        let stat = alive ? ThreadStat.read(tid: tid, pid: pid) : nil
        let status = alive ? ProcStatus.read(tid: tid, pid: pid) : nil
        var state = c.state.description
        if !alive {
            state = tid == 0 ? "starting" : "gone"
        } else if c.state == .spinning, let k = stat?.state, k == "S" || k == "D" {
            state = "parked"  // asleep in the futex, waiting for work
        }
        let requested = Requested(
            cpus: w.requestedCPUs, scheduling: w.requestedScheduling, ioPriority: w.requestedIOPriority, inFlight: w.requestedInFlight)
        let applied = Applied(
            cpus: alive ? try? SystemTopology.allowedCPUs(tid: tid) : nil,
            scheduling: alive ? ThreadScheduling.read(tid: tid) : nil,
            ioPriority: alive ? (IOPriority.read(tid: tid) ?? nil) : nil)
        let differs = alive && ((requested.cpus != nil && requested.cpus != applied.cpus)
            || (requested.scheduling != nil && requested.scheduling != applied.scheduling))
        let service = c.serviceTimeHistogram
        let wait = c.queueWaitHistogram
        return Worker(
            name: w.name, tid: tid, group: w.group, requested: requested, applied: applied, differs: differs,
            lastCPU: stat?.processor, state: state, queueDepth: c[.queueDepth], maxQueueDepth: c[.maxQueueDepth],
            inFlight: c[.inFlight], maxInFlight: c[.maxInFlight], completed: c[.completed], errors: c[.errors], cancelled: c[.cancelled], parks: c[.parks], wakes: c[.wakes],
            demotions: c[.demotions], restoreFailures: c[.restoreFailures], readsBySubmitters: c[.readsBySubmitters],
            busyNanoseconds: c[.busyNanoseconds],
            serviceTime: Latency(service), queueWait: Latency(wait),
            voluntaryContextSwitches: status?.integer("voluntary_ctxt_switches"),
            involuntaryContextSwitches: status?.integer("nonvoluntary_ctxt_switches"),
            minorFaults: stat?.minorFaults, majorFaults: stat?.majorFaults,
            serviceBuckets: service, queueWaitBuckets: wait)
    }
}
