import ArgumentParser
import Foundation
import RealtimeIO
import RealtimeIODiagnostics
import RealtimeIOLinux

/// `rtio-admin show [PID] [--json]`
///
/// Shows every worker of one process's engines (all running engines without
/// PID): thread name and id, group, allowed CPUs (sched_getaffinity), CPU last
/// run on, scheduling as the kernel reports it (sched_getattr), state, queue
/// depth, completed requests, p50/p99 service time (upper bounds of log2
/// histogram buckets), context switches and page faults; per process the
/// requested memory locking and VmLck.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show the workers of running engines: CPUs, scheduling, state, latency.")

    @Argument(help: "Process id (default: every running engine).")
    var pid: String?

    @Flag(name: .long, help: "Print {\"engines\": [...]} as JSON.")
    var json = false

    struct Worker: Encodable {
        var name: String
        var tid: Int32
        var group: String
        var requested: String
        var allowedCPUs: String?
        var lastCPU: Int?
        var scheduling: String?
        var nice: Int?
        var state: String
        var queueDepth: UInt64
        var completed: UInt64
        var errors: UInt64
        var p50Nanoseconds: UInt64?
        var p99Nanoseconds: UInt64?
        var voluntaryContextSwitches: Int?
        var involuntaryContextSwitches: Int?
        var minorFaults: Int?
        var majorFaults: Int?
    }

    struct Engine: Encodable {
        var pid: Int32
        var process: String?
        var engine: String
        var mode: String
        var memoryLocking: String
        var vmLckKiB: Int?
        var memoryLocked: Bool
        var workers: [Worker]
    }

    func run() throws {
        let readers: [StatusFileReader]
        if let pid {
            let pid = try Admin.pid(pid)
            do { readers = try StatusFile.open(pid: pid) } catch { throw AdminError(error.description) }
        } else {
            readers = StatusFile.list().filter { !$0.stale }.compactMap { try? StatusFileReader(path: $0.path) }
        }
        let engines = readers.map(Self.engine)
        if json {
            struct Output: Encodable { var engines: [Engine] }
            print(try Admin.json(Output(engines: engines)))
            return
        }
        if engines.isEmpty { print("no running engines"); return }
        print(engines.map(Self.table).joined(separator: "\n"), terminator: "")
    }

    static func engine(_ reader: StatusFileReader) -> Engine {
        let pid = reader.summary.pid
        let vmLck = ProcStatus.read(pid: pid)?.kibibytes("VmLck")
        return Engine(
            pid: pid, process: ProcFiles.command(pid: pid), engine: reader.summary.engineName, mode: reader.summary.mode,
            memoryLocking: reader.summary.memoryLocking, vmLckKiB: vmLck, memoryLocked: (vmLck ?? 0) > 0,
            workers: reader.workers.map { worker(pid: pid, $0) })
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
        let service = c.serviceTimeHistogram
        let scheduling = alive ? ThreadScheduling.read(tid: tid) : nil
        return Worker(
            name: w.name, tid: tid, group: w.group, requested: w.requested,
            allowedCPUs: alive ? (try? SystemTopology.allowedCPUs(tid: tid)).map { "\($0)" } : nil,
            lastCPU: stat?.processor, scheduling: scheduling.map { "\($0)" }, nice: stat?.nice, state: state,
            queueDepth: c[.queueDepth], completed: c[.completed], errors: c[.errors],
            p50Nanoseconds: WorkerCounters.quantile(0.5, of: service),
            p99Nanoseconds: WorkerCounters.quantile(0.99, of: service),
            voluntaryContextSwitches: status?.integer("voluntary_ctxt_switches"),
            involuntaryContextSwitches: status?.integer("nonvoluntary_ctxt_switches"),
            minorFaults: stat?.minorFaults, majorFaults: stat?.majorFaults)
    }

    static func table(_ e: Engine) -> String {
        let lock = "memory lock \(e.memoryLocking), VmLck \(e.vmLckKiB.map { "\($0) kB" } ?? "?")"
            + (e.memoryLocked ? "" : e.memoryLocking == "none" ? "" : " (NOT locked)")
        var out = "pid \(e.pid) (\(e.process ?? "?"))  engine \(e.engine)  mode \(e.mode)  \(lock)\n"
        func n<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "-" }
        out += Admin.table(
            ["WORKER", "TID", "GROUP", "CPUS", "LAST", "SCHED", "STATE", "QUEUE", "DONE", "P50<=", "P99<=",
             "VCSW", "ICSW", "MINFLT", "MAJFLT"],
            e.workers.map { w in
                [w.name, "\(w.tid)", w.group, n(w.allowedCPUs), n(w.lastCPU), n(w.scheduling), w.state,
                 "\(w.queueDepth)", "\(w.completed)", Admin.duration(w.p50Nanoseconds), Admin.duration(w.p99Nanoseconds),
                 n(w.voluntaryContextSwitches), n(w.involuntaryContextSwitches), n(w.minorFaults), n(w.majorFaults)]
            })
        return out
    }
}
