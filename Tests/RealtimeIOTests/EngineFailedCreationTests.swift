import Foundation
@testable import RealtimeIO
import Testing

/// Thousands of failed engine creations, each kind in a child process of its own
/// (`rtio-testhost --failed-creations`), which measures its heap with mallinfo2:
/// after a warm-up, N more failures must not grow it by N × 16 bytes — one leaked
/// allocation per failure (at least a 32-byte chunk) would.
@Suite("Engine: failed creations leak nothing", .serialized, .tags(.needsRoot))
struct EngineFailedCreationTests {
    static func check(_ kind: String, count: Int, via prefix: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let host = builtProduct("rtio-testhost")
        let command = prefix.isEmpty ? host : prefix[0]
        let arguments = (prefix.isEmpty ? [] : Array(prefix.dropFirst()) + [host])
            + ["--failed-creations", "--kind", kind, "--count", "\(count)"]
        let (_, out) = try runProcess(command, arguments)
        let r = try #require(try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)", sourceLocation: sourceLocation)
        #expect(r["failures"] as? Int == count, "\(r)", sourceLocation: sourceLocation)
        let growth = r["heap_growth"] as? Int ?? .max
        #expect(growth < 16 * count, "\(kind): the heap grew by \(growth) bytes over \(count) failed creations: \(r)", sourceLocation: sourceLocation)
    }

    @Test("invalid configurations (validation, JSON syntax, JSON type, footprint)")
    func configurations() throws {
        for kind in ["config", "json-syntax", "json-type", "json-missing", "footprint"] { try Self.check(kind, count: 2000) }
    }

    @Test("privilege refused under required (no CAP_SYS_NICE, RLIMIT_RTPRIO 0)")
    func privilege() throws {
        try Self.check("privilege", count: 2000, via: ["/usr/sbin/capsh", "--drop=cap_sys_nice,cap_ipc_lock", "--", "-c", "ulimit -r 0; exec \"$0\" \"$@\""])
    }

    @Test("worker and spawner thread creation fails (RLIMIT_NPROC as nobody)")
    func threads() throws {
        for (kind, nproc, count) in [("threads", 2, 500), ("spawner", 1, 1000)] {
            let directory = NSTemporaryDirectory() + "rtio-leak-\(getpid())-\(kind)"
            try? FileManager.default.removeItem(atPath: directory)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let host = directory + "/rtio-testhost"
            try copyExecutable(builtProduct("rtio-testhost"), to: host)  // not through a descriptor of this process (ETXTBSY)
            let (_, out) = try runProcess("/usr/bin/setpriv", [
                "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/prlimit", "--nproc=\(nproc):\(nproc)", host,
                "--failed-creations", "--kind", kind, "--count", "\(count)",
            ])
            let r = try #require(try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
            #expect(r["failures"] as? Int == count, "\(r)")
            #expect((r["error"] as? String ?? "").contains("pthread_create"), "\(r)")
            let growth = r["heap_growth"] as? Int ?? .max
            #expect(growth < 16 * count, "\(kind): the heap grew by \(growth) bytes: \(r)")
        }
    }

    @Test("failures after the workers started: mlockall and a nice value the kernel refused (user namespace)")
    func afterStart() throws {
        for kind in ["mlock", "readback"] { try Self.check(kind, count: 1000, via: ["/usr/bin/unshare", "-U", "-r"]) }
    }
}
