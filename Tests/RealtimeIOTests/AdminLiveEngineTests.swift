import Foundation
import Testing

@testable import RealtimeIO
@testable import RealtimeIODiagnostics
@testable import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

@Suite("Admin: rtio-admin against a live engine", .serialized, .tags(.needsRoot))
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
        #expect(mine["mode"] as? String == "preallocated")
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
            #expect((w["applied"] as? [String: Any])?["scheduling"] as? [String: Int] == ["fifo": 40])
            #expect((w["requested"] as? [String: Any])?["scheduling"] as? [String: Int] == ["fifo": 40])
            #expect((w["applied"] as? [String: Any])?["cpus"] as? String != nil)
            #expect(w["voluntaryContextSwitches"] as? Int != nil)
            #expect(["parked", "spinning", "busy"].contains(w["state"] as? String ?? ""), "\(w)")
        }
        #expect(shown["memoryLocking"] as? String == "currentAndFuture")
        #expect(shown["vmLckKiB"] as? Int != nil)
        // The host served reads through worker 0: completed and a p50 are there.
        #expect((workers.first?["completed"] as? Int ?? 0) > 0)
        #expect((workers.first?["serviceTime"] as? [String: Any])?["p50Nanoseconds"] as? Int != nil)

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
        try expectRejected(["set-priority", "\(pid)", "all", "batch:20"], mentioning: "nice 20")
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
        let after = try jsonObject(try admin(["list", "--all", "--json"]).out)["engines"] as? [[String: Any]] ?? []
        let dead = try #require(after.first { $0["path"] as? String == summary.path }, "\(after)")
        #expect(dead["stale"] as? Bool == true)
        #expect((dead["staleReason"] as? String)?.contains("gone") == true)
        try expectRejected(["show", "\(pid)"], mentioning: "stale")
        let showAll = try admin(["show", "--json"])
        #expect(!showAll.out.contains("\"pid\" : \(pid),"))
        unlink(summary.path)
    }
}
