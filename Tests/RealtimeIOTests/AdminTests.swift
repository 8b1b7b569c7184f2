import Foundation
import Testing

@testable import RealtimeIO
@testable import RealtimeIODiagnostics
@testable import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

// rtio-admin against live engines: status files, list/show, retuning, plan.
// `swift test` builds rtio-admin too (the "test" build target includes every product),
// so `builtProduct` finds it next to the test bundle.

/// Runs rtio-admin, returning exit status, stdout and stderr.
private func admin(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: builtProduct("rtio-admin"))
    p.arguments = arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

private func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
}

/// `rtio-testhost --hold … --workers 2 --name adm` in a child process; killed by `stop()` or deinit.
private final class TestHost {
    let process = Process()
    var pid: Int32 { process.processIdentifier }
    var workers: [(name: String, tid: Int32)] = []

    init() throws {
        process.executableURL = URL(fileURLWithPath: builtProduct("rtio-testhost"))
        process.arguments = ["--hold", "20", "--workers", "2", "--name", "adm"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        // The first line is the start report.
        var line = Data()
        let handle = pipe.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let report = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any], "host said: \(String(decoding: line, as: UTF8.self))")
        guard report["started"] as? Bool == true else {
            stop()
            throw TestHostError.notStarted(String(decoding: line, as: UTF8.self))
        }
        for w in report["workers"] as? [[String: Any]] ?? [] {
            workers.append((w["name"] as? String ?? "", Int32(w["tid"] as? Int ?? 0)))
        }
    }

    /// SIGKILL (no shutdown: its status file is left behind, as after a crash) and reap.
    func stop() {
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }

    enum TestHostError: Error { case notStarted(String) }
}

/// Expects a failed run with exactly one line on stderr containing `mentioning`.
private func expectRejected(_ arguments: [String], mentioning: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let r = try admin(arguments)
    #expect(r.status != 0, "\(arguments) exited 0: \(r.out)", sourceLocation: sourceLocation)
    let lines = r.err.split(separator: "\n")
    #expect(lines.count == 1, "\(arguments): stderr \(r.err)", sourceLocation: sourceLocation)
    #expect(r.err.contains(mentioning), "\(arguments): stderr \(r.err)", sourceLocation: sourceLocation)
}

@Suite("Admin: rtio-admin against a live engine", .serialized)
struct AdminLiveEngineTests {
    @Test func listShowRetuneAndReject() throws {
        let host = try TestHost()
        defer { host.stop() }
        let pid = host.pid
        try #require(host.workers.count == 2)

        // Status file: mode 0600 in a 0700 directory.
        let summary = try #require(StatusFile.list().first { $0.pid == pid && !$0.stale }, "no status file for \(pid)")
        var st = stat()
        #expect(stat(summary.path, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600)
        #expect(summary.path.hasSuffix("/\(pid)-adm.status"))
        let directory = (summary.path as NSString).deletingLastPathComponent
        #expect(stat(directory, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o700)

        // list
        let list = try admin(["list", "--json"])
        #expect(list.status == 0, "\(list.err)")
        let engines = try jsonObject(list.out)["engines"] as? [[String: Any]] ?? []
        let mine = try #require(engines.first { $0["pid"] as? Int == Int(pid) }, "\(list.out)")
        #expect(mine["engine"] as? String == "adm")
        #expect(mine["process"] as? String == "rtio-testhost")
        #expect(mine["mode"] as? String == "prealloc")
        #expect(mine["workers"] as? Int == 2)
        #expect(mine["stale"] as? Bool == false)

        // show
        let show = try admin(["show", "\(pid)", "--json"])
        #expect(show.status == 0, "\(show.err)")
        let shown = try #require((try jsonObject(show.out)["engines"] as? [[String: Any]])?.first)
        let workers = shown["workers"] as? [[String: Any]] ?? []
        #expect(workers.map { $0["name"] as? String } == host.workers.map(\.name))
        #expect(workers.map { ($0["tid"] as? Int).map(Int32.init) } == host.workers.map(\.tid))
        for w in workers {
            #expect(w["group"] as? String == "adm")
            #expect(w["scheduling"] as? String == "fifo:40")
            #expect(w["allowedCPUs"] as? String != nil)
            #expect(w["voluntaryContextSwitches"] as? Int != nil)
            #expect(["parked", "spinning", "busy"].contains(w["state"] as? String ?? ""), "\(w)")
        }
        #expect(shown["memoryLocking"] as? String == "currentAndFuture")
        #expect(shown["vmLckKiB"] as? Int != nil)
        // The host served reads through worker 0: completed and a p50 are there.
        #expect((workers.first?["completed"] as? Int ?? 0) > 0)
        #expect(workers.first?["p50Nanoseconds"] as? Int != nil)

        // Retune: affinity of worker 0, priority of worker 1, verified through the kernel.
        let t0 = host.workers[0].tid, t1 = host.workers[1].tid
        let affinity = try admin(["set-affinity", "\(pid)", "rtio-adm-0", "0", "--json"])
        #expect(affinity.status == 0, "\(affinity.out) \(affinity.err)")
        #expect(try SystemTopology.allowedCPUs(tid: t0) == CPUList(parsing: "0"))
        let priority = try admin(["set-priority", "\(pid)", "rtio-adm-1", "fifo:30", "--json"])
        #expect(priority.status == 0, "\(priority.out) \(priority.err)")
        let stat1 = try #require(ThreadStat.read(tid: t1, pid: pid))
        #expect(stat1.policy == Int(SCHED_FIFO))
        #expect(stat1.realtimePriority == 30)
        // The other worker was not touched.
        #expect(ThreadStat.read(tid: t0, pid: pid)?.realtimePriority == 40)
        let result = try jsonObject(priority.out)
        #expect(result["ok"] as? Bool == true)
        #expect((result["threads"] as? [[String: Any]])?.map { $0["status"] as? String } == ["applied"])

        // Bad input: one line on stderr, non-zero exit, nothing changed.
        for list in ["1-", "a", "99"] {
            try expectRejected(["set-affinity", "\(pid)", "all", list], mentioning: list)
        }
        try expectRejected(["set-priority", "\(pid)", "all", "fifo:0"], mentioning: "priority 0")
        try expectRejected(["set-priority", "\(pid)", "all", "rr:100"], mentioning: "priority 100")
        try expectRejected(["set-priority", "\(pid)", "all", "batch:1"], mentioning: "batch:1")
        try expectRejected(["set-priority", "\(pid)", "nosuch", "fifo:10"], mentioning: "unknown target 'nosuch'")
        try expectRejected(["set-affinity", "\(pid)", "rtio-adm-9", "0"], mentioning: "unknown target")
        try expectRejected(["set-affinity", "abc", "all", "0"], mentioning: "invalid PID 'abc'")
        try expectRejected(["set-affinity", "1", "all", "0"], mentioning: "pid 1")
        try expectRejected(["show", "12x"], mentioning: "invalid PID '12x'")
        try expectRejected(["show", "0"], mentioning: "invalid PID '0'")
        #expect(try SystemTopology.allowedCPUs(tid: t0) == CPUList(parsing: "0"))
        #expect(ThreadScheduling.read(tid: t1) == .fifo(priority: 30))

        // Killed without shutdown: the file stays, and is reported stale, not live.
        host.stop()
        let after = try jsonObject(try admin(["list", "--json"]).out)["engines"] as? [[String: Any]] ?? []
        let dead = try #require(after.first { $0["path"] as? String == summary.path }, "\(after)")
        #expect(dead["stale"] as? Bool == true)
        #expect((dead["staleReason"] as? String)?.contains("gone") == true)
        try expectRejected(["show", "\(pid)"], mentioning: "stale")
        let showAll = try admin(["show", "--json"])
        #expect(!showAll.out.contains("\"pid\" : \(pid),"))
        unlink(summary.path)
    }
}

@Suite("Admin: status files")
struct AdminStatusFileTests {
    @Test func publishedWhileRunningAndUnlinkedAtShutdown() throws {
        let a = try IOEngine(configuration: testConfiguration(workers: 2))
        let b = try IOEngine(configuration: testConfiguration(workers: 1))
        let pathA = try #require(a.statusFilePath), pathB = try #require(b.statusFilePath)
        #expect(pathA != pathB)  // same group name, same process: a suffix keeps them apart
        #expect(!a.degradations.contains { $0.kind == .statusFile })
        #expect(access(pathA, F_OK) == 0 && access(pathB, F_OK) == 0)

        // The mapped counters are the engine's own: tids and completions show through.
        let reader = try StatusFileReader(path: pathA)
        #expect(reader.summary.pid == getpid())
        #expect(!reader.summary.stale)
        #expect(reader.workers.map(\.tid) == a.workerThreadIDs)
        #expect(reader.workers.map(\.name) == ["rtio-t-0", "rtio-t-1"])
        #expect(reader.workers[0].requested == "cpus=any sched=other:0")
        let file = try TemporaryFile(size: 4096)
        var buffer = [UInt8](repeating: 0, count: 512)
        try buffer.withUnsafeMutableBytes { try a.submit(.read(file.fd, into: $0, at: 0), tag: 1, placement: .worker(1)) }
        #expect(reapAll(a, count: 1).count == 1)
        #expect(reader.workers[1].counters[.completed] == 1)

        a.shutdown()
        b.shutdown()
        #expect(access(pathA, F_OK) != 0 && access(pathB, F_OK) != 0)
        // The reader's mapping outlives the unlink.
        #expect(reader.workers[1].counters[.completed] == 1)
    }

    @Test func staleFilesAreFlaggedNotLive() throws {
        // A valid file to copy, then two forgeries: a dead pid, and our pid with a wrong start time.
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        defer { engine.shutdown() }
        let template = try Data(contentsOf: URL(fileURLWithPath: try #require(engine.statusFilePath)))
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let deadPID = child.processIdentifier
        let directory = StatusFile.directory

        func forge(pid: Int32, start: UInt64?, name: String) throws -> String {
            var bytes = [UInt8](template)
            bytes.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: Int64(pid), toByteOffset: StatusFileLayout.Header.pid, as: Int64.self)
                if let start { raw.storeBytes(of: start, toByteOffset: StatusFileLayout.Header.startTime, as: UInt64.self) }
            }
            let path = "\(directory)/\(pid)-\(name).status"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]))
            return path
        }
        let dead = try forge(pid: deadPID, start: nil, name: "stale")
        let reused = try forge(pid: getpid(), start: 1, name: "reused")
        defer { unlink(dead); unlink(reused) }

        let summaries = StatusFile.list()
        let deadSummary = try #require(summaries.first { $0.path == dead })
        #expect(deadSummary.stale)
        #expect(deadSummary.staleReason?.contains("gone") == true)
        let reusedSummary = try #require(summaries.first { $0.path == reused })
        #expect(reusedSummary.stale)
        #expect(reusedSummary.staleReason?.contains("reused") == true)
        #expect(summaries.first { $0.path == engine.statusFilePath }?.stale == false)

        let list = try admin(["list", "--json"])
        let engines = try jsonObject(list.out)["engines"] as? [[String: Any]] ?? []
        #expect(engines.first { $0["path"] as? String == dead }?["stale"] as? Bool == true)
        #expect(engines.first { $0["path"] as? String == reused }?["stale"] as? Bool == true)
        try expectRejected(["show", "\(deadPID)"], mentioning: "stale")
        let showAll = try admin(["show", "--json"])
        #expect(showAll.status == 0)
        #expect(!showAll.out.contains("\"pid\" : \(deadPID),"))
        // Only the live engine of this process is opened.
        #expect(try StatusFile.open(pid: getpid()).allSatisfy { $0.summary.path != reused })

        let removed = StatusFile.removeStale()
        #expect(removed.contains(dead) && removed.contains(reused))
        #expect(access(dead, F_OK) != 0 && access(reused, F_OK) != 0)
        #expect(access(try #require(engine.statusFilePath), F_OK) == 0)
    }
}

@Suite("Admin: plan")
struct AdminPlanTests {
    @Test func planIsAcceptedAsIs() throws {
        let r = try admin(["plan", "--workers", "3", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let configuration = try JSONDecoder().decode(EngineConfiguration.self, from: Data(r.out.utf8))
        #expect(configuration.workerCount == 3)
        let online = try SystemTopology.onlineCPUs()
        if online.count > 1 {
            #expect(configuration.groups[0].workerCPUs?.allSatisfy { !$0.contains(online.cpus[0]) } == true)
        }
        let engine = try IOEngine(configuration: configuration)
        defer { engine.shutdown() }
        #expect(engine.workerCount == 3)

        let table = try admin(["plan", "--workers", "2"])
        #expect(table.status == 0)
        #expect(table.out.contains("rtio-io-1"))
        try expectRejected(["plan", "--workers", "0"], mentioning: "--workers '0'")
        try expectRejected(["plan", "--workers", "x"], mentioning: "--workers 'x'")
    }
}
