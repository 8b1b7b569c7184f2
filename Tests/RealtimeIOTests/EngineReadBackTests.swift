import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Testing

/// Applied means read back: every worker's scheduling and CPUs are read from the
/// kernel after birth and compared with what it was born to have.
@Suite("Engine: applied means read back", .serialized, .tags(.needsRoot))
struct EngineReadBackTests {
    /// rtio-testhost in a new user namespace (`unshare -U -r`): root there, with every
    /// capability in the namespace and none the scheduler honours.
    static func inUserNamespace(_ arguments: [String]) throws -> [String: Any] {
        let (_, out) = try runProcess("/usr/bin/unshare", ["-U", "-r", builtProduct("rtio-testhost"), "--lock", "none", "--workers", "2"] + arguments)
        return try #require(try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
    }

    @Test("user namespace, required: nice -5 and FIFO 10 fail to start", arguments: [["--other", "-5"], ["--fifo", "10"]])
    func required(_ scheduling: [String]) throws {
        let r = try Self.inUserNamespace(scheduling + ["--policy", "required"])
        #expect(r["started"] as? Bool == false, "\(r)")
        let message = r["error"] as? String ?? ""
        let asked = scheduling[0] == "--other" ? "other:\(scheduling[1])" : "fifo:\(scheduling[1])"
        #expect(message.contains("cannot apply scheduling \(asked)"), "\(message)")
    }

    @Test("user namespace, bestEffort: each worker's degradation says what the kernel runs", arguments: [["--other", "-5"], ["--fifo", "10"]])
    func bestEffort(_ scheduling: [String]) throws {
        let r = try Self.inUserNamespace(scheduling + ["--policy", "bestEffort"])
        #expect(r["started"] as? Bool == true, "\(r)")
        #expect(r["io_ok"] as? Bool == true, "\(r)")
        let asked = scheduling[0] == "--other" ? "other:\(scheduling[1])" : "fifo:\(scheduling[1])"
        let details = r["degradation_details"] as? [[String: Any]] ?? []
        let workers = r["workers"] as? [[String: Any]] ?? []
        #expect(workers.count == 2, "\(r)")
        for worker in workers {
            let name = worker["name"] as? String ?? "?"
            let kernel = worker["applied"] as? String  // read with sched_getattr by the test host after start
            let mine = details.filter { $0["worker"] as? String == name && $0["kind"] as? String == "scheduling" }
            #expect(mine.count == 1, "\(name): \(details)")
            #expect(mine.first?["requested"] as? String == asked, "\(mine)")
            #expect(mine.first?["applied"] as? String == kernel, "\(name): degradation \(mine), kernel \(kernel ?? "?")")
            #expect(kernel != asked, "\(name) runs \(kernel ?? "?")")
        }
    }

    @Test("as root: everything reads back as asked, no degradation")
    func root() throws {
        let online = try SystemTopology.onlineCPUs()
        try #require(online.contains(1), "this test needs CPU 1 (online: \(online))")
        let engine = try IOEngine(configuration: EngineConfiguration(
            groups: [
                .init(name: "n", workers: 2, cpus: try CPUList(parsing: "0-1"), scheduling: .other(nice: -5)),
                .init(name: "f", workers: 1, cpus: try CPUList(parsing: "1"), scheduling: .fifo(priority: 10)),
            ],
            privilegePolicy: .required, spinBudget: .zero))
        defer { engine.shutdown() }
        #expect(engine.degradations.isEmpty, "\(engine.degradations)")
        for w in engine.workers {
            #expect(w.birthScheduling == w.requestedScheduling, "\(w.name): \(String(describing: w.birthScheduling))")
            #expect(w.birthCPUs == w.requestedCPUs, "\(w.name): \(String(describing: w.birthCPUs))")
            #expect(w.birthErrors == NativeThread.BirthErrors())
        }
    }
}
