import ArgumentParser
import Foundation
import RealtimeIO
import RealtimeIODiagnostics

/// The worker threads a `set-affinity` / `set-priority` TARGET names.
///
/// TARGET is a worker's thread name (`rtio-io-0`), a group name (`io`) or
/// `all`. Only threads listed in the process's status files qualify, and each
/// must still exist under /proc/PID/task: rtio-admin never touches a thread
/// that is not one of the engine's workers.
struct WorkerTarget {
    struct Thread: Encodable {
        var name: String
        var group: String
        var tid: Int32
    }

    var pid: Int32
    var threads: [Thread]

    /// Resolves `target` in process `pidText`, or throws a one-line ``AdminError``.
    init(pid pidText: String, target: String) throws {
        pid = try Admin.pid(pidText)
        let readers: [StatusFileReader]
        do { readers = try StatusFile.open(pid: pid) } catch { throw AdminError(error.description) }
        let all = readers.flatMap(\.workers).map { Thread(name: $0.name, group: $0.group, tid: $0.tid) }
        let chosen: [Thread]
        if target == "all" {
            chosen = all
        } else if let worker = all.first(where: { $0.name == target }) {
            chosen = [worker]
        } else {
            chosen = all.filter { $0.group == target }
        }
        guard !chosen.isEmpty else {
            let groups = Array(Set(all.map(\.group))).sorted().joined(separator: ", ")
            throw AdminError("unknown target '\(target)' in pid \(pid): use all, a group (\(groups)) or a worker (\(all.map(\.name).joined(separator: ", ")))")
        }
        for t in chosen where !ProcFiles.isThread(t.tid, of: pid) {
            throw AdminError("worker \(t.name) (tid \(t.tid)) is not a thread of pid \(pid) (not started, or exited); nothing changed")
        }
        threads = chosen
    }
}

/// Applies one setting to each target thread, reads it back, and rolls every
/// thread back to its previous value if any thread fails — never a silent half-change.
enum ThreadRetune {
    struct Outcome: Encodable {
        var name: String
        var tid: Int32
        /// `applied`, `failed` or `rolled back`.
        var status: String
        var before: String?
        var after: String?
        var reason: String?
    }

    static func run<T: Equatable & CustomStringConvertible>(
        _ threads: [WorkerTarget.Thread], to wanted: T,
        read: (Int32) -> T?, write: (T, Int32) throws -> Void
    ) -> [Outcome] {
        var outcomes: [Outcome] = []
        var previous: [T?] = []
        for t in threads {
            let before = read(t.tid)
            previous.append(before)
            var outcome = Outcome(name: t.name, tid: t.tid, status: "failed", before: before?.description)
            do {
                try write(wanted, t.tid)
                let after = read(t.tid)
                outcome.after = after?.description
                if after == wanted {
                    outcome.status = "applied"
                } else {
                    outcome.reason = "kernel reports \(after?.description ?? "nothing (thread gone?)") after setting \(wanted)"
                }
            } catch {
                outcome.reason = "\(error)"
            }
            outcomes.append(outcome)
        }
        guard outcomes.contains(where: { $0.status != "applied" }) else { return outcomes }
        for i in outcomes.indices where outcomes[i].status == "applied" {
            guard let before = previous[i] else { continue }
            do {
                try write(before, outcomes[i].tid)
                outcomes[i].status = "rolled back"
                outcomes[i].after = read(outcomes[i].tid)?.description
                outcomes[i].reason = "restored \(before) because another thread failed"
            } catch {
                outcomes[i].reason = "rollback to \(before) failed: \(error)"
            }
        }
        return outcomes
    }

    /// Prints the outcomes (table or JSON); throws a failure exit status if any thread was not applied.
    static func report(_ outcomes: [Outcome], pid: Int32, target: String, setting: String, json: Bool) throws {
        let ok = outcomes.allSatisfy { $0.status == "applied" }
        if json {
            struct Output: Encodable { var pid: Int32; var target: String; var requested: String; var ok: Bool; var threads: [Outcome] }
            print(try Admin.json(Output(pid: pid, target: target, requested: setting, ok: ok, threads: outcomes)))
        } else {
            print(Admin.table(["WORKER", "TID", "RESULT", "BEFORE", "AFTER", "REASON"], outcomes.map {
                [$0.name, "\($0.tid)", $0.status, $0.before ?? "-", $0.after ?? "-", $0.reason ?? ""]
            }), terminator: "")
        }
        guard ok else {
            let failed = outcomes.filter { $0.status == "failed" }
            let first = failed.first.map { "\($0.name): \($0.reason ?? "")" } ?? "rollback incomplete"
            FileHandle.standardError.write(Data("Error: \(failed.count) of \(outcomes.count) threads failed (\(first)); others rolled back\n".utf8))
            throw ExitCode.failure
        }
    }
}
