import ArgumentParser
import RealtimeIO
import RealtimeIOLinux

/// `rtio-admin set-priority PID TARGET fifo:N|rr:N|other[:NICE] [--json]`
///
/// Changes engine workers' scheduling (`sched_setattr`), reads it back
/// (`sched_getattr`), and reports each thread. Priorities must be in 1...99,
/// nice values in -20...19. If any thread fails, the others are restored and
/// the exit status is 1.
struct SetPriorityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-priority",
        abstract: "Change engine workers' scheduling policy and priority.",
        discussion: "TARGET: a worker (rtio-io-0), a group (io) or all. POLICY: fifo:N, rr:N (N in 1...99), other or other:NICE (-20...19).")

    @Argument(help: "Process id of the engine.") var pid: String
    @Argument(help: "Worker name, group name or 'all'.") var target: String
    @Argument(help: "fifo:N, rr:N or other[:NICE].") var policy: String
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func run() throws {
        let wanted: SchedulingPolicy
        do { wanted = try SchedulingPolicy(parsing: policy) } catch { throw AdminError(error.description) }
        let resolved = try WorkerTarget(pid: pid, target: target)
        let outcomes = ThreadRetune.run(
            resolved.threads, to: wanted,
            read: { ThreadScheduling.read(tid: $0) },
            write: { try ThreadScheduling.apply($0, tid: $1) })
        try ThreadRetune.report(outcomes, pid: resolved.pid, target: target, setting: "\(wanted)", json: json)
    }
}
