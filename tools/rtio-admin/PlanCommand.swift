import ArgumentParser
import Foundation
import RealtimeIO
import RealtimeIOLinux

/// `rtio-admin plan --workers N [--allow-shared] [--json]`
///
/// Proposes an `EngineConfiguration` for this machine: one group `io` of N
/// workers, each pinned to one CPU — isolated CPUs (`isolcpus=`) first, then
/// the other online CPUs, leaving CPU 0 to housekeeping when there is more than
/// one. Scheduling fifo:50, memory locked (current and future), best-effort
/// privileges. More workers than CPUs is refused (exit 64) unless
/// `--allow-shared`: two spinning SCHED_FIFO workers on one CPU take turns only
/// when one parks or its real-time share runs out.
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
    @Flag(name: .long, help: "Allow two or more real-time workers on one CPU (they would take turns).") var allowShared = false

    func run() throws {
        guard let count = Int(workers), (1...1024).contains(count) else {
            throw AdminError.usage("invalid --workers '\(workers)': expected a whole number in 1...1024")
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
            throw AdminError(error.description, .osError)
        }
        let plan = try Self.plan(workers: count, online: online, isolated: isolated, allowShared: allowShared)
        do { try plan.configuration.validate(onlineCPUs: online) } catch {
            throw AdminError("internal error: the plan does not validate: \(error)", .software)
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

    static func plan(workers: Int, online: CPUList, isolated: CPUList, allowShared: Bool = false) throws -> Plan {
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
        if workers > candidates.count {
            let cpus = candidates.map { "\($0.0)" }.joined(separator: ",")
            guard allowShared else {
                throw AdminError.usage("\(workers) real-time workers on \(candidates.count) CPU(s) (\(cpus)) would put two spinning SCHED_FIFO workers on one CPU: one runs only when the other parks or uses up its real-time share; plan at most \(candidates.count) worker(s), or pass --allow-shared to accept it")
            }
            notes.append("\(workers) workers on \(candidates.count) CPU(s): workers share CPUs (--allow-shared); they take turns when one parks or rests")
        }
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
