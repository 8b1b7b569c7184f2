import ArgumentParser
import RealtimeIO
import SystemPackage
import RealtimeIOLinux

/// `rtio-admin set-priority PID TARGET POLICY [--json]`
///
/// Changes engine workers' scheduling (`sched_setattr`), reads it back
/// (`sched_getattr`), and reports each thread. If any thread fails, the others
/// are restored to exactly what was read before (BATCH, IDLE and nice values included).
struct SetPriorityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-priority",
        abstract: "Change engine workers' scheduling policy and priority.",
        discussion: """
            TARGET: a worker (rtio-io-0), a group (io), all, or a worker's thread id. POLICY: fifo:N, rr:N (N in 1...99), \
            other[:NICE], normal[:NICE], batch[:NICE] (NICE in -20...19), idle; SCHED_FIFO:N etc.; tuna's f:N r:N o b i; \
            or a bare N that keeps each thread's real-time policy.
            """)

    @Argument(help: "Process id of the engine (or a worker's thread id).") var pid: String
    @Argument(help: "Worker name, group name, 'all' or a worker's thread id.") var target: String
    @Argument(help: "fifo:N, rr:N, other[:NICE], batch[:NICE], idle, SCHED_*, f:N, or N.") var policy: String
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func run() throws {
        let request = try SchedulingRequest(parsing: policy)
        let resolved = try WorkerTarget(pid: pid, target: target)
        let outcomes = try ThreadRetune.run(
            resolved.threads, want: { current, thread throws(AdminError) in try request.resolve(current: current, thread: thread.name) },
            read: { ThreadScheduling.read(tid: $0) },
            write: { policy, tid throws(Errno) in try ThreadScheduling.apply(policy, tid: tid) })
        struct Requested: Encodable { @Null var scheduling: SchedulingPolicy?; @Null var priority: Int? }
        let requested: Requested
        switch request {
        case .policy(let p): requested = Requested(scheduling: p, priority: nil)
        case .priorityOnly(let n): requested = Requested(scheduling: nil, priority: n)
        }
        try ThreadRetune.report(outcomes, pid: resolved.pid, target: target, requested: requested, json: json)
    }
}
