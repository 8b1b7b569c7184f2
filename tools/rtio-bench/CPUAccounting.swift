// CPU cost of a measured window: process CPU time (getrusage RUSAGE_SELF, user + system, includes
// threads that exited during the window), per-task CPU time from /proc/self/task/<tid>/schedstat
// (nanoseconds on CPU, nanoseconds runnable but waiting for a CPU), and the submitter's own
// off-CPU figures (run-queue wait from its schedstat, involuntary switches from
// getrusage(RUSAGE_THREAD)).
//
// The engine's threads are the tasks that did not exist before `start` (workers, io-wq
// `iou-wrk-*`, the SQPOLL `iou-sqp-*` thread, glibc AIO helpers): their CPU is the "wrk" column.
// A task that exits inside the window takes its time out of /proc/self/task with it (glibc's
// helpers after 1 s idle, io-wq workers after ~5 s): those are still in the process figure.
// The kernel accounts io_uring's SQPOLL and io-wq threads (PF_IO_WORKER threads of the process
// since Linux 5.12) to RUSAGE_SELF like any other thread; `snapshot` checks that per window and,
// where a task's schedstat time exceeds what RUSAGE_SELF grew by, adds the difference
// (`unaccounted`) so no engine's helper is free.
//
// Snapshots are taken outside the recorded phase (they allocate and read /proc).

#if canImport(Glibc)
import Glibc
#endif
import CRealtimeIOShims

/// One task's scheduler statistics and identity.
struct TaskSample {
    var tid: Int32
    var name: String
    /// Nanoseconds on a CPU since the task started (schedstat field 1).
    var runNs: UInt64
    /// Nanoseconds runnable but waiting for a CPU (schedstat field 2).
    var waitNs: UInt64
}

/// `/proc/self/task/<tid>/schedstat`: (on-CPU ns, run-queue wait ns), nil if the task is gone.
func taskSchedstat(_ tid: Int32) -> (run: UInt64, wait: UInt64)? {
    guard let text = readSmallFile("/proc/self/task/\(tid)/schedstat") else { return nil }
    let fields = text.split(separator: " ")
    guard fields.count >= 2, let run = UInt64(fields[0]), let wait = UInt64(fields[1]) else { return nil }
    return (run, wait)
}

/// Process user+system CPU time in ns (RUSAGE_SELF).
func processCPUNanoseconds() -> UInt64 {
    var ru = rusage()
    getrusage(RUSAGE_SELF.rawValue, &ru)
    func ns(_ t: timeval) -> UInt64 { UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_usec) * 1000 }
    return ns(ru.ru_utime) + ns(ru.ru_stime)
}

/// The calling thread's involuntary context switches (getrusage RUSAGE_THREAD).
func threadInvoluntarySwitches() -> Int {
    var ru = rusage()
    getrusage(1 /* RUSAGE_THREAD */, &ru)
    return ru.ru_nivcsw
}

/// Scheduling policy and affinity of a task, for the "engine threads" note.
func taskSchedulingSummary(_ tid: Int32) -> String? {
    guard let info = taskInfo(tid) else { return nil }
    var policyText = "?"
    if let stat = readSmallFile("/proc/self/task/\(tid)/stat"), let close = stat.lastIndex(of: ")") {
        // After ") ": field 3 is index 0; rt_priority is field 40, policy field 41.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 38, let prio = Int(fields[37]), let policy = Int(fields[38]) {
            switch policy {
            case 0: policyText = "OTHER"
            case 1: policyText = "FIFO \(prio)"
            case 2: policyText = "RR \(prio)"
            case 3: policyText = "BATCH"
            case 5: policyText = "IDLE"
            default: policyText = "policy \(policy)"
            }
        }
    }
    return "\(policyText), cpus \(info.cpusAllowed)"
}

/// The thread name without its numeric suffix ("iou-wrk-1234" -> "iou-wrk", "rtio-w0" stays).
func taskFamilyName(_ name: String) -> String {
    var trimmed = Substring(name)
    while let last = trimmed.last, last.isNumber { trimmed = trimmed.dropLast() }
    if trimmed.count < name.count, let last = trimmed.last, last == "-" { trimmed = trimmed.dropLast() }
    return trimmed.isEmpty ? name : String(trimmed)
}

/// CPU figures at one instant.
struct CPUSnapshot {
    var processNs: UInt64
    var tasks: [Int32: TaskSample]
    var submitterWaitNs: UInt64
    var submitterInvoluntary: Int

    /// Taken on the submitter thread (its tid is `gettid()`).
    static func now() -> CPUSnapshot {
        var tasks: [Int32: TaskSample] = [:]
        for tid in currentTaskIDs() {
            guard let s = taskSchedstat(tid) else { continue }
            tasks[tid] = TaskSample(tid: tid, name: taskInfo(tid)?.name ?? "?", runNs: s.run, waitNs: s.wait)
        }
        let me = Int32(rtio_gettid())
        return CPUSnapshot(processNs: processCPUNanoseconds(), tasks: tasks,
                           submitterWaitNs: tasks[me]?.waitNs ?? 0,
                           submitterInvoluntary: threadInvoluntarySwitches())
    }
}

/// The measured window's CPU cost, filled into an `EngineResult`.
struct CPUWindow {
    var start: CPUSnapshot
    var end: CPUSnapshot

    /// CPU of the tasks created since `tasksBefore` (the engine's), summed over tasks alive at the end.
    func engineTaskNs(tasksBefore: Set<Int32>) -> (ns: UInt64, families: [String: Int]) {
        var total: UInt64 = 0
        var families: [String: Int] = [:]
        for (tid, s) in end.tasks where !tasksBefore.contains(tid) {
            total &+= s.runNs &- (start.tasks[tid]?.runNs ?? 0)
            families[taskFamilyName(s.name), default: 0] += 1
        }
        return (total, families)
    }

    func apply(tasksBefore: Set<Int32>, to result: inout EngineResult) {
        var process = end.processNs &- start.processNs
        // Sum of all tasks' schedstat deltas vs RUSAGE_SELF: if threads' time is missing from
        // RUSAGE_SELF (SQPOLL's thread on kernels that do not account it), add it.
        var tasksTotal: UInt64 = 0
        for (tid, s) in end.tasks { tasksTotal &+= s.runNs &- (start.tasks[tid]?.runNs ?? 0) }
        // schedstat is exact, rusage is tick-sampled: only a gap beyond 10 % + 20 ms is "missing".
        if tasksTotal > process, tasksTotal - process > process / 10 + 20_000_000 {
            result.cpuUnaccountedNs = tasksTotal - process
            process = tasksTotal
        }
        result.processCPUNs = process
        let engine = engineTaskNs(tasksBefore: tasksBefore)
        result.workerCPUNs = engine.ns
        result.submitterRunQueueNs = end.submitterWaitNs &- start.submitterWaitNs
        result.submitterInvoluntary = end.submitterInvoluntary - start.submitterInvoluntary
    }
}
