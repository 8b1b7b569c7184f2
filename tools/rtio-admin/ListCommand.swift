import ArgumentParser
import Foundation
import RealtimeIO
import RealtimeIODiagnostics

/// `rtio-admin list [--json] [--remove-stale]`
///
/// Lists the engines that publish a status file: pid, process name
/// (/proc/PID/comm), engine name, mode and worker count. Files left behind by
/// an engine that died (process gone, or pid reused) are marked stale;
/// `--remove-stale` deletes them.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List running RealtimeIO engines (from their status files).",
        discussion: "Status files are read from \(StatusFile.searchDirectories.joined(separator: " and ")).")

    @Flag(name: .long, help: "Print {\"engines\": [...]} as JSON.")
    var json = false

    @Flag(name: .long, help: "Delete stale status files (their process is gone or its pid was reused).")
    var removeStale = false

    struct Engine: Encodable {
        var pid: Int32
        var process: String?
        var engine: String
        var mode: String
        var workers: Int
        var memoryLocking: String
        var path: String
        var stale: Bool
        var staleReason: String?
        var removed: Bool
    }

    func run() throws {
        let summaries = StatusFile.list()
        let removed = Set(removeStale ? StatusFile.removeStale() : [])
        let engines = summaries.map { s in
            Engine(pid: s.pid, process: s.stale ? nil : ProcFiles.command(pid: s.pid), engine: s.engineName,
                   mode: s.mode, workers: s.workerCount, memoryLocking: s.memoryLocking, path: s.path,
                   stale: s.stale, staleReason: s.staleReason, removed: removed.contains(s.path))
        }
        if json {
            struct Output: Encodable { var engines: [Engine] }
            print(try Admin.json(Output(engines: engines)))
            return
        }
        if engines.isEmpty {
            print("no engines (no status files in \(StatusFile.searchDirectories.joined(separator: " or ")))")
            return
        }
        print(Admin.table(
            ["PID", "PROCESS", "ENGINE", "MODE", "WORKERS", "STATUS"],
            engines.map { e in
                ["\(e.pid)", e.process ?? "-", e.engine, e.mode, "\(e.workers)",
                 e.stale ? "\(e.removed ? "REMOVED" : "STALE"): \(e.staleReason ?? "") (\(e.path))" : "running"]
            }), terminator: "")
    }
}
