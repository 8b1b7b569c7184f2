import ArgumentParser
import Foundation
import RealtimeIO
import RealtimeIOLinux

/// `rtio-admin plan --workers N [--json]`
///
/// Proposes an `EngineConfiguration` for this machine: one group `io` of N
/// workers, each pinned to one CPU — isolated CPUs (`isolcpus=`) first, then
/// the other online CPUs, leaving CPU 0 to housekeeping when there is more than
/// one; workers wrap around when there are more workers than CPUs. Scheduling
/// fifo:50, memory locked (current and future), best-effort privileges.
///
/// With `--json` the output is only the configuration, which
/// `JSONDecoder().decode(EngineConfiguration.self, from:)` and
/// `IOEngine(configuration:)` accept as is.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Propose an engine configuration (JSON) from this machine's CPU topology.")

    @Option(name: .long, help: "Number of workers (1...1024).") var workers: String
    @Flag(name: .long, help: "Print only the EngineConfiguration JSON.") var json = false

    func run() throws {
        guard let count = Int(workers), (1...1024).contains(count) else {
            throw AdminError("invalid --workers '\(workers)': expected a whole number in 1...1024")
        }
        // The CPUs this process may use (its cpuset ∩ online): a plan never proposes a CPU
        // engine creation would refuse as outside the cpuset.
        let online: CPUList
        let isolated: CPUList
        let processCPUs: ProcessCPUs
        do {
            processCPUs = try ProcessCPUs.current()
            online = processCPUs.allowed
            isolated = try SystemTopology.isolatedCPUs().intersection(online)
        } catch {
            throw AdminError(error.description)
        }
        let plan = try Self.plan(workers: count, online: online, isolated: isolated)
        do { try plan.configuration.validate(onlineCPUs: online) } catch {
            throw AdminError("internal error: the plan does not validate: \(error)")
        }
        let text = try Admin.json(plan.configuration)
        if json { print(text); return }
        print("online CPUs \(processCPUs.online), allowed \(processCPUs), isolated \(isolated.isEmpty ? "none" : "\(isolated)")")
        for note in plan.notes { print("note: \(note)") }
        print(Admin.table(["WORKER", "CPU", "WHY"], plan.assignment.map { [$0.0, "\($0.1)", $0.2] }), terminator: "")
        print("\n" + text)
    }

    struct Plan {
        var configuration: EngineConfiguration
        var assignment: [(String, Int, String)]
        var notes: [String]
    }

    static func plan(workers: Int, online: CPUList, isolated: CPUList) throws -> Plan {
        var notes: [String] = []
        let housekeeping = online.count > 1 ? online.cpus[0] : nil
        var candidates: [(Int, String)] = isolated.cpus.map { ($0, "isolated") }
        for cpu in online.subtracting(isolated) where cpu != housekeeping || online.count == 1 {
            candidates.append((cpu, "online, not isolated"))
        }
        if candidates.isEmpty, let housekeeping { candidates = [(housekeeping, "only CPU left")] }
        if let housekeeping, !isolated.contains(housekeeping) {
            notes.append("CPU \(housekeeping) left for housekeeping (interrupts, the host's other threads)")
        }
        if isolated.isEmpty { notes.append("no isolated CPUs: add isolcpus=/nohz_full= to the kernel command line for less jitter") }
        if workers > candidates.count { notes.append("\(workers) workers on \(candidates.count) CPU(s): workers share CPUs") }
        var assignment: [(String, Int, String)] = []
        var lists: [CPUList] = []
        for w in 0..<workers {
            let (cpu, why) = candidates[w % candidates.count]
            lists.append(try CPUList([cpu]))
            assignment.append(("rtio-io-\(w)", cpu, why))
        }
        let configuration = EngineConfiguration(
            groups: [.init(name: "io", workers: workers, workerCPUs: lists, scheduling: .fifo(priority: 50))],
            memoryLocking: .currentAndFuture, privilegePolicy: .bestEffort)
        return Plan(configuration: configuration, assignment: assignment, notes: notes)
    }
}
