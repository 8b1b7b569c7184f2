import ArgumentParser
import Foundation
import RealtimeIO
import RealtimeIODiagnostics
import RealtimeIOLinux

/// `rtio-admin show [PID|TID] [--json]`
///
/// Shows every worker of one process's engines (all running engines without an
/// argument; only that worker for a worker's thread id): requested and applied
/// CPUs, scheduling and I/O priority, state, queue depth, completed requests,
/// service-time percentiles (HDR histogram, ≤ 3.2 % error), parks, demotions,
/// context switches and page faults; per engine the mode, the degradations, the
/// on-demand workers, memory locking and VmLck.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show the workers of running engines: requested vs applied, state, latency.")

    @Argument(help: "Process id, or a worker's thread id (default: every running engine).")
    var pid: String?

    @Flag(name: .long, help: "Print {\"engines\": [...]} as JSON.")
    var json = false

    func run() throws {
        var readers: [StatusFileReader] = []
        var onlyTID: Int32? = nil
        var problems = false
        if let pid {
            let id = try Admin.pid(pid)
            let process = try WorkerTarget.pid(pid)
            if process != id { onlyTID = id }
            do { readers = try StatusFile.open(pid: process) } catch { throw AdminError(error) }
        } else {
            let found = Admin.discover()
            problems = !found.problems.isEmpty
            readers = found.summaries.filter { !$0.stale }.compactMap { try? StatusFileReader(path: $0.path) }
        }
        var engines = readers.map(EngineView.init)
        if let onlyTID {
            for i in engines.indices {
                engines[i].workers = engines[i].workers.filter { $0.tid == onlyTID }
                engines[i].onDemandWorkers = engines[i].onDemandWorkers.filter { $0.tid == onlyTID }
            }
            engines = engines.filter { !$0.workers.isEmpty || !$0.onDemandWorkers.isEmpty }
            guard !engines.isEmpty else {
                throw AdminError("thread \(onlyTID) is not an engine worker of its process (see rtio-admin show \(try WorkerTarget.pid(pid!)))", .noInput)
            }
        }
        if json {
            struct Output: Encodable { var engines: [EngineView] }
            print(try Admin.json(Output(engines: engines)))
        } else if engines.isEmpty {
            print("no running engines")
        } else {
            print(engines.map(Self.table).joined(separator: "\n"), terminator: "")
        }
        if problems { throw ExitCode(AdminExit.noPermission.rawValue) }
    }

    static func table(_ e: EngineView) -> String {
        let lock = "memory lock \(e.memoryLocking), VmLck \(e.vmLckKiB.map { "\($0) kB" } ?? "?")"
            + (e.memoryLocked || e.memoryLocking == "none" ? "" : " (NOT locked)")
        var out = "pid \(e.pid) (\(e.process ?? "?"))  engine \(e.engine)  mode \(e.mode)  real-time share \(e.realtimeSharePercent) %  \(lock)\n"
        func n<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "-" }
        if !e.workers.isEmpty {
            out += Admin.table(
                ["WORKER", "TID", "GROUP", "CPUS REQ→NOW", "SCHED REQ→NOW", "LAST", "STATE", "QUEUE", "DONE", "P50", "P99",
                 "PARKS", "DEMOTE", "VCSW", "ICSW", "MINFLT", "MAJFLT"],
                e.workers.map { w in
                    ["\(w.name)\(w.differs ? "*" : "")", "\(w.tid)", w.group,
                     "\(w.requested.cpus.map { "\($0)" } ?? "any")→\(n(w.applied.cpus))",
                     "\(n(w.requested.scheduling))→\(n(w.applied.scheduling))", n(w.lastCPU), w.state,
                     "\(w.queueDepth)", "\(w.completed)", Admin.duration(w.serviceTime.p50Nanoseconds),
                     Admin.duration(w.serviceTime.p99Nanoseconds), "\(w.parks)", "\(w.demotions)",
                     n(w.voluntaryContextSwitches), n(w.involuntaryContextSwitches), n(w.minorFaults), n(w.majorFaults)]
                })
            if e.workers.contains(where: \.differs) { out += "* applied CPUs or scheduling differ from the requested ones\n" }
        }
        if e.onDemandMaxThreads > 0 {
            out += "on-demand workers: \(e.onDemandWorkers.count) running (at most \(e.onDemandMaxThreads))\n"
            if !e.onDemandWorkers.isEmpty {
                out += Admin.table(["TID", "CPUS", "SCHED", "LAST", "STATE"], e.onDemandWorkers.map {
                    ["\($0.tid)", n($0.cpus), n($0.scheduling), n($0.lastCPU), n($0.state)]
                })
            }
        }
        switch e.degradations {
        case nil: out += "degradations: not yet published (engine starting)\n"
        case let list? where list.isEmpty: out += "degradations: none\n"
        case let list?:
            out += "degradations:\n"
            for d in list {
                out += "  \(d.worker ?? d.group.map { "group \($0)" } ?? "engine"): \(d.kind) \(d.requested) → \(d.applied) (\(d.reason))"
                    + (d.remedy.map { "; remedy: \($0)" } ?? "") + "\n"
            }
        }
        return out
    }
}
