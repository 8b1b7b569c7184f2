import ArgumentParser
import Foundation
import RealtimeIO
import SystemPackage
import RealtimeIODiagnostics
import RealtimeIOLinux

/// The worker threads a `set-…` TARGET names.
///
/// TARGET is a worker's thread name (`rtio-io-0`), a group name (`io`), `all`,
/// or a worker's thread id (as tuna and taskset take it; an on-demand worker's
/// too). Only the engine's workers qualify — threads listed in the process's
/// status files, and on-demand workers (named `rtio-od`) — and each must still
/// exist under /proc/PID/task: rtio-admin never touches another thread.
struct WorkerTarget {
    struct Thread: Encodable {
        var name: String
        var group: String
        var tid: Int32
    }

    var pid: Int32
    var threads: [Thread]

    /// Resolves `target` in process `pidText`, or throws an ``AdminError``.
    init(pid pidText: String, target: String) throws(AdminError) {
        pid = try Self.pid(pidText)
        let readers: [StatusFileReader]
        do { readers = try StatusFile.open(pid: pid) } catch { throw AdminError(error) }
        var all = readers.flatMap(\.workers).map { Thread(name: $0.name, group: $0.group, tid: $0.tid) }
        for reader in readers where !reader.summary.onDemandThreadName.isEmpty {
            for tid in ProcFiles.threads(of: pid, named: reader.summary.onDemandThreadName) where !all.contains(where: { $0.tid == tid }) {
                all.append(Thread(name: reader.summary.onDemandThreadName, group: "on-demand", tid: tid))
            }
        }
        let chosen: [Thread]
        if target == "all" {
            chosen = all
        } else if let tid = Int32(target) {
            guard let worker = all.first(where: { $0.tid == tid }) else {
                throw .usage("thread \(tid) is not a worker of pid \(pid) (workers: \(all.map { "\($0.name)=\($0.tid)" }.joined(separator: ", "))); rtio-admin changes engine workers only")
            }
            chosen = [worker]
        } else if let worker = all.first(where: { $0.name == target && $0.group != "on-demand" }) {
            chosen = [worker]
        } else {
            chosen = all.filter { $0.group == target }
        }
        guard !chosen.isEmpty else {
            let groups = Array(Set(all.map(\.group))).sorted().joined(separator: ", ")
            throw .usage("unknown target '\(target)' in pid \(pid): use all, a group (\(groups)), a worker (\(all.map(\.name).joined(separator: ", "))) or a worker's thread id")
        }
        for t in chosen where !ProcFiles.isThread(t.tid, of: pid) {
            throw AdminError("worker \(t.name) (tid \(t.tid)) is not a thread of pid \(pid) (not started, or exited); nothing changed", .noInput)
        }
        threads = chosen
    }

    /// A PID argument; a worker's thread id is accepted too and means its process.
    static func pid(_ text: String) throws(AdminError) -> Int32 {
        let pid: Int32
        do { pid = try Admin.pid(text) } catch let e as AdminError { throw e } catch { throw .usage("\(error)") }
        if let group = ProcFiles.threadGroup(of: pid), group != pid { return group }
        return pid
    }
}

/// Applies one setting to each target thread, reads it back, and rolls every
/// thread back to exactly what was read before if any thread fails — never a
/// silent half-change.
enum ThreadRetune {
    struct Outcome<T: Encodable>: Encodable {
        var name: String
        var tid: Int32
        /// `applied`, `failed` or `rolledBack`.
        var status: String
        @Null var before: T?
        @Null var wanted: T?
        @Null var after: T?
        @Null var reason: String?
        /// errno of a refused change (for the exit status); not encoded.
        var errno: Errno?

        enum CodingKeys: String, CodingKey { case name, tid, status, before, wanted, after, reason }
    }

    /// `want` computes each thread's target from what it runs now; it may throw
    /// (bare priority on a non-real-time thread) before anything changed.
    static func run<T: Equatable & CustomStringConvertible & Encodable>(
        _ threads: [WorkerTarget.Thread], want: (T?, WorkerTarget.Thread) throws(AdminError) -> T,
        read: (Int32) -> T?, write: (T, Int32) throws(Errno) -> Void
    ) throws(AdminError) -> [Outcome<T>] {
        // Read everything and decide everything first: a bad request changes nothing.
        var plan: [(WorkerTarget.Thread, T?, T)] = []
        for t in threads {
            let before = read(t.tid)
            plan.append((t, before, try want(before, t)))
        }
        var outcomes: [Outcome<T>] = []
        for (t, before, wanted) in plan {
            var outcome = Outcome<T>(name: t.name, tid: t.tid, status: "failed", before: before, wanted: wanted)
            do throws(Errno) {
                try write(wanted, t.tid)
                let after = read(t.tid)
                outcome.after = after
                if after == wanted {
                    outcome.status = "applied"
                } else {
                    outcome.reason = "kernel reports \(after?.description ?? "nothing (thread gone?)") after setting \(wanted)"
                }
            } catch {
                outcome.reason = "\(error)"
                outcome.errno = error
            }
            outcomes.append(outcome)
        }
        guard outcomes.contains(where: { $0.status != "applied" }) else { return outcomes }
        for i in outcomes.indices where outcomes[i].status == "applied" {
            guard let before = plan[i].1 else { continue }
            do throws(Errno) {
                try write(before, outcomes[i].tid)
                outcomes[i].status = "rolledBack"
                outcomes[i].after = read(outcomes[i].tid)
                outcomes[i].reason = "restored \(before) because another thread failed"
            } catch {
                outcomes[i].reason = "rollback to \(before) failed: \(error)"
            }
        }
        return outcomes
    }

    /// Prints the outcomes (table or JSON); throws the failure's exit status if any thread was not applied.
    static func report<T: Encodable & CustomStringConvertible>(
        _ outcomes: [Outcome<T>], pid: Int32, target: String, requested: some Encodable, json: Bool
    ) throws {
        let ok = outcomes.allSatisfy { $0.status == "applied" }
        if json {
            print(try Admin.json(RetuneOutput(pid: pid, target: target, requested: requested, ok: ok, threads: outcomes)))
        } else {
            print(Admin.table(["WORKER", "TID", "RESULT", "BEFORE", "AFTER", "REASON"], outcomes.map {
                [$0.name, "\($0.tid)", $0.status, $0.before?.description ?? "-", $0.after?.description ?? "-", $0.reason ?? ""]
            }), terminator: "")
        }
        guard ok else {
            let failed = outcomes.filter { $0.status == "failed" }
            let first = failed.first.map { "\($0.name): \($0.reason ?? "")" } ?? "rollback incomplete"
            let errnos = failed.compactMap(\.errno)
            let exit: AdminExit = errnos.contains(.notPermitted) || errnos.contains(.permissionDenied) ? .noPermission
                : errnos.contains(.noSuchProcess) ? .noInput : .osError
            throw AdminError("\(failed.count) of \(outcomes.count) threads failed (\(first)); others rolled back", exit)
        }
    }
}

/// `set-…` JSON: `{"pid", "target", "requested", "ok", "threads": [...]}`.
struct RetuneOutput<R: Encodable, U: Encodable>: Encodable {
    var pid: Int32
    var target: String
    var requested: R
    var ok: Bool
    var threads: [U]
}

/// Optional I/O priority with a description (`none` for no priority), for outcomes.
struct IOPrioritySetting: Equatable, CustomStringConvertible, Encodable {
    var value: IOPriority?
    var description: String { value.map { "\($0)" } ?? "none" }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value { try c.encode(value) } else { try c.encodeNil() }
    }
}
