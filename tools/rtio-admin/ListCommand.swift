import ArgumentParser
import Foundation
import RealtimeIO
import RealtimeIODiagnostics

/// `rtio-admin list [--all] [--remove-stale] [--json]`
///
/// Lists the running engines: pid, process name (/proc/PID/comm), engine name,
/// mode and worker count. Engines are found through the status files their
/// processes map (/proc/PID/maps), whatever runtime directory they used, and in
/// the status directories. Files left behind by an engine that died are stale:
/// hidden unless `--all`, deleted with `--remove-stale`. A status file or
/// directory that cannot be read is reported and the exit status is 77.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List running RealtimeIO engines.",
        discussion: """
            Engines are found through the status files their processes map (/proc/PID/maps: root sees every \
            engine, a user their own), and stale files in \(StatusFile.searchDirectories.joined(separator: ", ")) \
            and /run/user/UID/rtio. Unreadable status files or directories: exit status 77.
            """)

    @Flag(name: .long, help: "Print {\"engines\": [...], \"problems\": [...]} as JSON.")
    var json = false

    @Flag(name: .long, help: "Also show stale status files (their process is gone or its pid was reused).")
    var all = false

    @Flag(name: .long, help: "Delete stale status files.")
    var removeStale = false

    struct Engine: Encodable {
        var pid: Int32
        @Null var process: String?
        var engine: String
        var mode: String
        var workers: Int
        var memoryLocking: String
        var path: String
        var stale: Bool
        @Null var staleReason: String?
        var removed: Bool
    }

    func run() throws {
        let found = Admin.discover()
        var removed = Set<String>()
        if removeStale {
            for s in found.summaries where s.stale {
                if unlink(s.path) == 0 { removed.insert(s.path) } else {
                    Admin.warn("Error: cannot remove \(s.path): \(String(cString: strerror(errno)))")
                }
            }
        }
        let engines = found.summaries.filter { all || !$0.stale || removed.contains($0.path) }.map { s in
            Engine(pid: s.pid, process: s.stale ? nil : ProcFiles.command(pid: s.pid), engine: s.engineName,
                   mode: s.mode, workers: s.workerCount, memoryLocking: s.memoryLocking, path: s.path,
                   stale: s.stale, staleReason: s.staleReason, removed: removed.contains(s.path))
        }
        let hiddenStale = found.summaries.filter { $0.stale && !removed.contains($0.path) }.count
        if json {
            struct Problem: Encodable { var path: String; var reason: String; var permission: Bool }
            struct Output: Encodable { var engines: [Engine]; var hiddenStale: Int; var problems: [Problem] }
            print(try Admin.json(Output(
                engines: engines, hiddenStale: all ? 0 : hiddenStale,
                problems: found.problems.map { Problem(path: $0.path, reason: $0.reason, permission: $0.isPermission) })))
        } else if engines.isEmpty {
            print("no running engines" + (hiddenStale > 0 && !all ? " (\(hiddenStale) stale status file(s): --all shows them, --remove-stale deletes them)" : ""))
        } else {
            print(Admin.table(
                ["PID", "PROCESS", "ENGINE", "MODE", "WORKERS", "STATUS"],
                engines.map { e in
                    ["\(e.pid)", e.process ?? "-", e.engine, e.mode, "\(e.workers)",
                     e.stale ? "\(e.removed ? "REMOVED" : "STALE"): \(e.staleReason ?? "") (\(e.path))" : "running"]
                }), terminator: "")
            if hiddenStale > 0 && !all { print("(\(hiddenStale) stale status file(s) hidden: --all shows them, --remove-stale deletes them)") }
        }
        if !found.problems.isEmpty {
            throw ExitCode(AdminExit.noPermission.rawValue)
        }
    }
}
