import ArgumentParser
import RealtimeIO
import RealtimeIOLinux

/// `rtio-admin set-affinity PID TARGET CPULIST [--json]`
///
/// Restricts engine workers to CPULIST (`sched_setaffinity`), reads the mask
/// back, and reports each thread. Every CPU must be online. If any thread
/// fails, the others are restored and the exit status is 1.
struct SetAffinityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-affinity",
        abstract: "Pin engine workers to CPUs.",
        discussion: "TARGET: a worker (rtio-io-0), a group (io) or all. CPULIST: kernel list syntax, e.g. 2-3,6.")

    @Argument(help: "Process id of the engine.") var pid: String
    @Argument(help: "Worker name, group name or 'all'.") var target: String
    @Argument(help: "CPU list, e.g. 2-3,6.") var cpuList: String
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func run() throws {
        let cpus: CPUList
        do { cpus = try CPUList(parsing: cpuList) } catch { throw AdminError(error.description) }
        let online: CPUList
        do { online = try SystemTopology.onlineCPUs() } catch { throw AdminError(error.description) }
        guard cpus.isSubset(of: online) else {
            throw AdminError("CPU(s) \(cpus.subtracting(online)) not online (online: \(online)); use online CPUs only")
        }
        let resolved = try WorkerTarget(pid: pid, target: target)
        let outcomes = ThreadRetune.run(
            resolved.threads, to: cpus,
            read: { try? SystemTopology.allowedCPUs(tid: $0) },
            write: { try SystemTopology.setAllowedCPUs($0, tid: $1) })
        try ThreadRetune.report(outcomes, pid: resolved.pid, target: target, setting: "\(cpus)", json: json)
    }
}
