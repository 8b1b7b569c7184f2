import CRealtimeIOShims
import Foundation
import Synchronization
import Testing
@testable import RealtimeIO
@testable import RealtimeIOLinux

/// Workers are born with the configured I/O priority (`ionice` class and
/// level), set by each worker on itself before it takes work and read back;
/// without one they reset to class none — never the creating thread's.
@Suite("Engine: I/O priority at birth", .serialized, .tags(.needsRoot))
struct EngineIOPriorityTests {
    /// The I/O priority of a thread as the kernel reports it (nil: class none).
    static func ioPriority(of tid: Int32) throws -> IOPriority? {
        let raw = rtio_ioprio_get_tid(tid)
        try #require(raw >= 0, "ioprio_get(\(tid)): \(raw)")
        return IOPriority(kernelValue: raw)
    }

    @Test("each group's workers carry its I/O priority, read back from the kernel")
    func applied() throws {
        let engine = try IOEngine(configuration: EngineConfiguration(
            groups: [.init(name: "rt", workers: 2, ioPriority: .realtime(level: 3)),
                     .init(name: "bg", workers: 1, ioPriority: .idle),
                     .init(name: "be", workers: 1, ioPriority: .bestEffort(level: 6))],
            privilegePolicy: .required, spinBudget: .zero))
        defer { engine.shutdown() }
        let expected: [IOPriority] = [.realtime(level: 3), .realtime(level: 3), .idle, .bestEffort(level: 6)]
        for (tid, want) in zip(engine.workerThreadIDs, expected) {
            #expect(try Self.ioPriority(of: tid) == want)
        }
        #expect(engine.workerSnapshots().map(\.appliedIOPriority) == expected)
        #expect(engine.degradations.isEmpty, "\(engine.degradations)")
    }

    /// The creating thread runs at idle I/O priority: workers without a
    /// configured one must not inherit it (Linux copies it at clone).
    @Test("a worker without a configured I/O priority does not inherit its creator's")
    func notInherited() throws {
        let result = Mutex<[IOPriority?]?>(nil)
        let creator = try NativeThread.spawn(attributes: ThreadAttributes(name: "idle-creator")) {
            #expect(rtio_ioprio_set_tid(0, IOPriority.idle.kernelValue) == 0)
            #expect((try? Self.ioPriority(of: 0)) == .idle)
            do {
                let engine = try IOEngine(configuration: testConfiguration(workers: 2))
                let read = engine.workerThreadIDs.map { try? Self.ioPriority(of: $0) }
                engine.shutdown()
                result.withLock { $0 = read.map { $0 ?? nil } }
            } catch {
                Issue.record("\(error)")
            }
        }
        creator.join()
        let read = try #require(result.withLock { $0 })
        #expect(read == [nil, nil], "workers inherited the creator's I/O priority: \(read)")
    }

    @Test("levels outside 0...7 are refused, naming the field")
    func invalidLevel() throws {
        var c = testConfiguration(workers: 1)
        c.groups[0].ioPriority = .bestEffort(level: 8)
        do throws(ConfigurationError) {
            try c.validate()
            Issue.record("level 8 accepted")
        } catch {
            #expect(error.field == "groups[0].ioPriority", "\(error)")
        }
        let json = #"{"groups":[{"name":"g","workers":1,"ioPriority":{"realtime":2}}]}"#
        #expect(try EngineConfiguration(json: json).groups[0].ioPriority == .realtime(level: 2))
    }

    /// Without CAP_SYS_NICE the real-time class is refused by the kernel:
    /// `required` fails naming it, `bestEffort` starts and reports it.
    @Test("unprivileged: a real-time I/O priority fails under required, degrades under bestEffort")
    func unprivileged() throws {
        let host = builtProduct("rtio-testhost")
        let drop = ["--drop=cap_sys_nice,cap_sys_admin", "--", "-c"]
        let (_, required) = try runProcess("/usr/sbin/capsh", drop + ["exec \(host) --other 0 --lock none --ioprio rt:2 --policy required"])
        let r = try #require(try JSONSerialization.jsonObject(with: Data(required.utf8)) as? [String: Any], "\(required)")
        #expect(r["started"] as? Bool == false, "\(required)")
        let message = r["error"] as? String ?? ""
        #expect(message.contains("I/O priority rt:2") && message.contains("CAP_SYS_NICE"), "\(message)")

        let (_, best) = try runProcess("/usr/sbin/capsh", drop + ["exec \(host) --other 0 --lock none --ioprio rt:2 --policy bestEffort"])
        let b = try #require(try JSONSerialization.jsonObject(with: Data(best.utf8)) as? [String: Any], "\(best)")
        #expect(b["started"] as? Bool == true, "\(best)")
        let details = b["degradation_details"] as? [[String: Any]] ?? []
        #expect(details.contains { $0["kind"] as? String == "ioPriority" && $0["requested"] as? String == "rt:2" }, "\(details)")
        let workers = b["workers"] as? [[String: Any]] ?? []
        #expect(workers.first?["ioprio"] as? String == "none", "\(workers)")

        // Best effort needs no privilege.
        let (_, plain) = try runProcess("/usr/sbin/capsh", drop + ["exec \(host) --other 0 --lock none --ioprio be:1 --policy required"])
        let p = try #require(try JSONSerialization.jsonObject(with: Data(plain.utf8)) as? [String: Any], "\(plain)")
        #expect(p["started"] as? Bool == true, "\(plain)")
        #expect((p["workers"] as? [[String: Any]])?.first?["ioprio"] as? String == "be:1", "\(plain)")
    }
}
