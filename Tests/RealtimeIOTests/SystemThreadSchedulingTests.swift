import CRealtimeIOShims
import Foundation
import RealtimeIO
import RealtimeIOLinux
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("System: thread scheduling")
struct SystemThreadSchedulingTests {
    /// A parked thread of our own whose policy the test changes from outside.
    final class Subject: Sendable {
        let tid = SharedCounter()
        let release = SharedFlag()
        let thread: NativeThread

        init() throws {
            let tid = self.tid, release = self.release
            thread = try NativeThread.spawn(attributes: ThreadAttributes(scheduling: .other(nice: 0), name: "sched-subject")) {
                tid.store(Int(rtio_gettid()))
                while !release.isSet { usleep(1000) }
            }
            #expect(waitUntil(seconds: 10) { tid.value != 0 })
        }

        var id: Int32 { Int32(tid.value) }

        func stop() {
            release.set()
            thread.join()
        }
    }

    /// Sets a policy with the raw sched_setattr(2), not through ThreadScheduling.
    private func setattr(_ tid: Int32, policy: Int32, nice: Int32 = 0) throws {
        var attr = rtio_sched_attr()
        attr.sched_policy = UInt32(policy)
        attr.sched_nice = nice
        let rc = rtio_sched_setattr(tid, &attr, 0)
        try #require(rc == 0, "sched_setattr(policy \(policy)) on \(tid): \(Errno(rawValue: -rc))")
    }

    @Test func readsBackBatchAndIdle() throws {
        let subject = try Subject()
        defer { subject.stop() }
        let tid = subject.id
        #expect(ThreadScheduling.read(tid: tid) == .other(nice: 0))

        try setattr(tid, policy: 3, nice: 5)  // SCHED_BATCH
        #expect(ThreadScheduling.read(tid: tid) == .batch(nice: 5))
        #expect(ThreadStat.read(tid: tid)?.policy == 3)
        #expect(ThreadScheduling.read(tid: tid)?.description == "batch:5")

        try setattr(tid, policy: 5)  // SCHED_IDLE
        #expect(ThreadScheduling.read(tid: tid) == .idle)
        #expect(ThreadStat.read(tid: tid)?.policy == 5)

        // What was read can be written back unchanged (rtio-admin's rollback).
        try ThreadScheduling.apply(.batch(nice: 5), tid: tid)
        #expect(ThreadScheduling.read(tid: tid) == .batch(nice: 5))
        try ThreadScheduling.apply(.other(nice: 0), tid: tid)
        #expect(ThreadScheduling.read(tid: tid) == .other(nice: 0))
    }

    @Test func workersRefuseNonWorkerPolicies() throws {
        for policy: SchedulingPolicy in [.batch(nice: 0), .idle, .deadline(runtime: .milliseconds(1), deadline: .milliseconds(10), period: .milliseconds(10))] {
            #expect(throws: SchedulingPolicyError.notForWorkers(policy)) { try policy.validate() }
            let configuration = EngineConfiguration(groups: [.init(name: "io", workers: 1, scheduling: policy)])
            let error = #expect(throws: ConfigurationError.self) { try configuration.validate() }
            #expect(error?.field == "groups[0].scheduling")
            #expect(error?.description.contains("cannot be requested for engine workers") == true, "\(String(describing: error))")
        }
        #expect(throws: SchedulingPolicyError.malformed("batch:0")) { try SchedulingPolicy(parsing: "batch:0") }
    }

    @Test func everyPolicyRoundTripsThroughJSON() throws {
        let policies: [SchedulingPolicy] = [
            .fifo(priority: 40), .rr(priority: 10), .other(nice: -5), .batch(nice: 3), .idle,
            .deadline(runtime: .microseconds(500), deadline: .milliseconds(2), period: .milliseconds(4)),
        ]
        for policy in policies {
            let data = try JSONEncoder().encode(policy)
            #expect(try JSONDecoder().decode(SchedulingPolicy.self, from: data) == policy, "\(String(decoding: data, as: UTF8.self))")
        }
        #expect(String(decoding: try JSONEncoder().encode(SchedulingPolicy.fifo(priority: 40)), as: UTF8.self) == #"{"fifo":40}"#)
        #expect(SchedulingPolicy.deadline(runtime: .microseconds(500), deadline: .milliseconds(2), period: .milliseconds(4)).description
                == "deadline:500000/2000000/4000000")
    }
}
