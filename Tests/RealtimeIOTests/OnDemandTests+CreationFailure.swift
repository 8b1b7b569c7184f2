import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

extension OnDemandTests {
    // MARK: thread creation failure

    @Suite("OnDemand: thread creation failure", .serialized, .tags(.needsRoot))
    struct CreationFailure {
        static func run(_ executable: String, _ arguments: [String]) throws -> [String: Any] {
            let (_, out) = try runProcess(executable, arguments)
            let line = out.split(separator: "\n").last.map(String.init) ?? ""
            return (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? ["raw": out]
        }

        /// Runs the test host as `nobody` with RLIMIT_NPROC = `limit`. (The kernel exempts uid 0
        /// from RLIMIT_NPROC whatever its capabilities, so dropping CAP_SYS_RESOURCE and
        /// CAP_SYS_ADMIN is not enough for root; nobody has no other tasks on this machine.)
        ///
        /// The host runs from a copy in a fresh world-readable directory: the build folder may sit
        /// under a directory nobody cannot enter (a `mktemp -d` clone is 0700).
        static func runAsNobody(nproc limit: Int, _ arguments: [String]) throws -> [String: Any] {
            let directory = NSTemporaryDirectory() + "rtio-nobody-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let host = directory + "/rtio-testhost"
            try copyExecutable(builtProduct("rtio-testhost"), to: host)
            return try run("/usr/bin/setpriv", [
                "--reuid=65534", "--regid=65534", "--clear-groups",
                "/usr/bin/prlimit", "--nproc=\(limit):\(limit)", host,
            ] + arguments)
        }

        @Test("no thread can be created: every request completes with -EAGAIN", arguments: [OnDemandPool.Spawner.hostLoop])
        func noThreadAtAll(spawner: OnDemandPool.Spawner) throws {
            // One task allowed: the host process itself; every pthread_create fails with EAGAIN.
            let r = try Self.runAsNobody(nproc: 1, ["--ondemand", "--count", "32", "--sleep-ms", "1", "--spawner", spawner.rawValue])
            #expect(r["started"] as? Bool == true, "\(r)")
            #expect(r["completed"] as? Int == 32, "\(r)")
            #expect(r["unique"] as? Bool == true, "\(r)")
            #expect(r["eagain"] as? Int == 32, "\(r)")
            #expect(r["threads_created"] as? Int == 0, "\(r)")
            #expect((r["creation_failures"] as? Int ?? 0) >= 1, "\(r)")
            #expect(r["failed_for_no_thread"] as? Int == 32, "\(r)")
        }

        @Test("spawner thread cannot be created: the engine fails to start, clearly")
        func noSpawnerThread() throws {
            let r = try Self.runAsNobody(nproc: 1, ["--ondemand", "--count", "1", "--spawner", "spawnerThread"])
            #expect(r["started"] as? Bool == false, "\(r)")
            #expect((r["error"] as? String ?? "").contains("rtio-od-spawn"), "\(r)")
        }

        @Test("a few threads can be created: queued requests run on them, nothing is lost")
        func someThreads() throws {
            // Four tasks: the host and up to three workers.
            let r = try Self.runAsNobody(nproc: 4, ["--ondemand", "--count", "64", "--sleep-ms", "10"])
            #expect(r["started"] as? Bool == true, "\(r)")
            #expect(r["completed"] as? Int == 64, "\(r)")
            #expect(r["unique"] as? Bool == true, "\(r)")
            #expect(r["ok"] as? Int == 64, "\(r)")
            #expect((r["creation_failures"] as? Int ?? 0) >= 1, "\(r)")
            let created = r["threads_created"] as? Int ?? 0
            #expect(created >= 1 && created <= 3 * 64, "\(r)")
        }
    }
}
