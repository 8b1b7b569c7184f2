import ArgumentParser
import RealtimeIO
import SystemPackage
import RealtimeIOLinux

/// `rtio-admin set-ioprio PID TARGET rt:N|be:N|idle|none [--json]`
///
/// Changes engine workers' I/O priority as `ionice -p` does (`ioprio_set` per
/// thread), reads it back, and rolls back every thread if one fails.
struct SetIOPriorityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-ioprio",
        abstract: "Change engine workers' I/O priority (as ionice).",
        discussion: "TARGET: a worker (rtio-io-0), a group (io), all, or a worker's thread id. CLASS: rt:N (realtime, N in 0...7, needs CAP_SYS_ADMIN), be:N (best-effort), idle, or none (derived from nice).")

    @Argument(help: "Process id of the engine (or a worker's thread id).") var pid: String
    @Argument(help: "Worker name, group name, 'all' or a worker's thread id.") var target: String
    @Argument(help: "rt:N, be:N, idle or none.") var ioPriority: String
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func run() throws {
        let wanted = IOPrioritySetting(value: try IOPrioritySyntax.parse(ioPriority))
        let resolved = try WorkerTarget(pid: pid, target: target)
        let outcomes = try ThreadRetune.run(
            resolved.threads, want: { _, _ in wanted },
            read: { tid in IOPriority.read(tid: tid).map { IOPrioritySetting(value: $0) } },
            write: { setting, tid throws(Errno) in try IOPriority.apply(setting.value, tid: tid) })
        try ThreadRetune.report(outcomes, pid: resolved.pid, target: target, requested: wanted, json: json)
    }
}
