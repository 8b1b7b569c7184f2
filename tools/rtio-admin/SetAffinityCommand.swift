import ArgumentParser
import RealtimeIO
import SystemPackage
import RealtimeIOLinux

/// `rtio-admin set-affinity PID TARGET CPULIST [--mask] [--json]`
///
/// Restricts engine workers to CPULIST (`sched_setaffinity`), reads the mask
/// back, and reports each thread. Every CPU must be online. If any thread
/// fails, the others are restored to exactly what was read before.
struct SetAffinityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-affinity",
        abstract: "Pin engine workers to CPUs.",
        discussion: "TARGET: a worker (rtio-io-0), a group (io), all, or a worker's thread id. CPULIST as taskset takes it: 2-3,6, 0-7:2 (every 2nd), 0-7:1/2 (kernel form), or a hex mask 0x3 (or plain hex with --mask).")

    @Argument(help: "Process id of the engine (or a worker's thread id).") var pid: String
    @Argument(help: "Worker name, group name, 'all' or a worker's thread id.") var target: String
    @Argument(help: "CPU list (2-3,6, 0-7:2) or hex mask (0x3).") var cpuList: String
    @Flag(name: .long, help: "Read CPULIST as a hexadecimal mask (as taskset without -c).") var mask = false
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func run() throws {
        let cpus = try CPUSyntax.parse(cpuList, mask: mask)
        let online: CPUList
        do { online = try SystemTopology.onlineCPUs() } catch { throw AdminError("\(error)", .osError) }
        guard cpus.isSubset(of: online) else {
            throw AdminError.usage("CPU(s) \(cpus.subtracting(online)) not online (online: \(online)); use online CPUs only")
        }
        let resolved = try WorkerTarget(pid: pid, target: target)
        let outcomes = try ThreadRetune.run(
            resolved.threads, want: { (_: CPUList?, _: WorkerTarget.Thread) throws(AdminError) -> CPUList in cpus },
            read: { (tid: Int32) -> CPUList? in try? SystemTopology.allowedCPUs(tid: tid) },
            write: { (cpus: CPUList, tid: Int32) throws(Errno) -> Void in
                do throws(SystemTopologyError) { try SystemTopology.setAllowedCPUs(cpus, tid: tid) } catch { throw error.errno ?? .invalidArgument }
            })
        try ThreadRetune.report(outcomes, pid: resolved.pid, target: target, requested: cpus, json: json)
    }
}
