import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import Testing

@Suite("Engine: birth attributes and privileges", .serialized, .tags(.needsRoot))
struct EngineBirthTests {
    /// The creating thread is pinned to CPU 0 under SCHED_OTHER; workers asked
    /// for FIFO 40 on CPU 1 must be born there, not inherit the creator's.
    @Test("workers are born FIFO 40 on CPU 1 whatever the creator's attributes")
    func bornPinnedAndPrioritised() throws {
        let online = try SystemTopology.onlineCPUs()
        try #require(online.contains(1), "this test needs CPU 1 (online: \(online))")
        let result = Mutex<Result<[WorkerSnapshot], EngineError>?>(nil)
        let creator = try NativeThread.spawn(
            attributes: ThreadAttributes(cpus: [0], scheduling: .other(nice: 0), name: "creator")
        ) {
            #expect(rtio_sched_getcpu() == 0)
            do {
                let engine = try IOEngine(configuration: EngineConfiguration(
                    groups: [.init(name: "rt", workers: 2, cpus: try! CPUList(parsing: "1"), scheduling: .fifo(priority: 40))],
                    privilegePolicy: .required, spinBudget: .nanoseconds(0)))
                let snapshots = engine.workerSnapshots()
                engine.shutdown()
                result.withLock { $0 = .success(snapshots) }
            } catch let error as EngineError {
                result.withLock { $0 = .failure(error) }
            } catch {
                Issue.record("\(error)")
            }
        }
        creator.join()
        let snapshots = try result.withLock { $0 }!.get()
        #expect(snapshots.count == 2)
        for s in snapshots {
            // Snapshots were read from the kernel by the creator thread while the workers ran.
            #expect(s.appliedScheduling == .fifo(priority: 40), "\(s.name): \(String(describing: s.appliedScheduling))")
            #expect(s.appliedCPUs == (try CPUList(parsing: "1")), "\(s.name): \(String(describing: s.appliedCPUs))")
            #expect(s.firstCPU == 1, "\(s.name) first ran on CPU \(s.firstCPU)")
            #expect(s.name.hasPrefix("rtio-rt-"))
        }
    }

    @Test("the kernel's view: /proc stat and sched_getaffinity agree while running")
    func procStatAgrees() throws {
        let engine = try IOEngine(configuration: EngineConfiguration(
            groups: [.init(name: "p", workers: 1, cpus: try CPUList(parsing: "1"), scheduling: .rr(priority: 12))],
            privilegePolicy: .required, spinBudget: .nanoseconds(0)))
        defer { engine.shutdown() }
        let tid = engine.workerThreadIDs[0]
        let stat = try #require(ThreadStat.read(tid: tid))
        #expect(stat.policy == Int(SCHED_RR))
        #expect(stat.realtimePriority == 12)
        #expect(try SystemTopology.allowedCPUs(tid: tid) == CPUList(parsing: "1"))
        let name = try String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8)
        #expect(name.trimmingCharacters(in: .whitespacesAndNewlines) == "rtio-p-0")
    }

    @Test("SCHED_OTHER workers get their nice value")
    func niceApplied() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, scheduling: .other(nice: 5)))
        defer { engine.shutdown() }
        #expect(ThreadScheduling.read(tid: engine.workerThreadIDs[0]) == .other(nice: 5))
    }

    /// A child process without CAP_SYS_NICE/CAP_IPC_LOCK and with RLIMIT_RTPRIO=0.
    @Test("unprivileged: .required fails clearly, .bestEffort runs I/O and reports")
    func unprivileged() throws {
        let host = builtProduct("rtio-testhost")
        let drop = ["--drop=cap_sys_nice,cap_ipc_lock", "--", "-c"]
        let (_, required) = try runProcess("/usr/sbin/capsh", drop + ["ulimit -r 0; exec \(host) --policy required"])
        let r = try JSONSerialization.jsonObject(with: Data(required.utf8)) as! [String: Any]
        #expect(r["started"] as? Bool == false)
        let message = r["error"] as? String ?? ""
        #expect(message.contains("CAP_SYS_NICE"), "\(message)")
        #expect(message.contains("RLIMIT_RTPRIO"), "\(message)")
        #expect(message.contains("setcap cap_sys_nice,cap_ipc_lock+ep"), "\(message)")

        let (_, best) = try runProcess("/usr/sbin/capsh", drop + ["ulimit -r 0; exec \(host) --policy bestEffort"])
        let b = try JSONSerialization.jsonObject(with: Data(best.utf8)) as! [String: Any]
        #expect(b["started"] as? Bool == true, "\(best)")
        #expect(b["io_ok"] as? Bool == true, "\(best)")
        let degradations = b["degradations"] as? [String] ?? []
        #expect(degradations.contains { $0.contains("fifo:40 not applied") }, "\(degradations)")
        #expect(degradations.contains { $0.contains("memory locking") }, "\(degradations)")
        let workers = b["workers"] as? [[String: Any]] ?? []
        #expect(workers.first?["applied"] as? String == "other:0")
    }
}
