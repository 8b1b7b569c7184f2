import CRealtimeIOShims
import Foundation
import RealtimeIO
import Testing

/// A SCHED_FIFO worker with a 10 % duty cycle (1 ms of real-time spinning
/// per 10 ms window) and a 1 s spin budget: idle, it spins real-time for
/// 1 ms, then rests. The spin stays bounded: at most 1 ms real-time per 10 ms,
/// the rest as SCHED_OTHER or parked.
private func restConfiguration(_ rest: DutyCycleRest) throws -> EngineConfiguration {
    EngineConfiguration(
        groups: [.init(name: "dc", workers: 1, cpus: try CPUList(parsing: "1"), scheduling: .fifo(priority: 3))],
        ringCapacity: 8, requestsInFlight: 8, privilegePolicy: .required,
        spinBudgetNanoseconds: 1_000_000_000, spinDutyCyclePercent: 10, dutyCycleRest: rest)
}

@Suite("Engine: duty-cycle rest", .serialized)
struct DutyCycleRestTests {
    @Test("a real-time worker rests as SCHED_OTHER, still serves, and parks real-time again")
    func demotedRest() throws {
        let engine = try IOEngine(configuration: try restConfiguration(.demote))
        defer { engine.shutdown() }
        let tid = engine.workerThreadIDs[0]
        // Seen by the kernel: demoted while it rests.
        #expect(waitUntil(seconds: 5) {
            engine.workerSnapshots()[0].demotions >= 1 && ThreadScheduling.read(tid: tid) == .other(nice: 0)
        }, "worker never seen resting as other:0 (policy \(String(describing: ThreadScheduling.read(tid: tid))))")
        #expect(engine.workerSnapshots()[0].parks == 0, "it polls while it rests; it does not park")

        // A request during the rest is served.
        let file = try TemporaryFile(size: 4096)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
        defer { buffer.deallocate() }
        try engine.submit(.read(file.fd, into: buffer, at: 8), tag: 1)
        let first = reapAll(engine, count: 1)
        #expect(first.map(\.result) == [8])

        // The budget runs out with nothing to do: it parks, and parks real-time.
        #expect(waitUntil(seconds: 10) { engine.workerSnapshots()[0].state == "parked" })
        #expect(ThreadScheduling.read(tid: tid) == .fifo(priority: 3))
        // And a parked worker still wakes for the next request.
        try engine.submit(.read(file.fd, into: buffer, at: 16), tag: 2)
        #expect(reapAll(engine, count: 1).map(\.result) == [8])
    }

    /// An operator's retune (rtio-admin set-priority) during a rest is not undone.
    @Test("a retune during the rest stands")
    func retuneDuringRestStands() throws {
        let engine = try IOEngine(configuration: try restConfiguration(.demote))
        defer { engine.shutdown() }
        let tid = engine.workerThreadIDs[0]
        #expect(waitUntil(seconds: 5) { ThreadScheduling.read(tid: tid) == .other(nice: 0) })
        try ThreadScheduling.apply(.other(nice: 5), tid: tid)
        // The rest ends (window over or budget spent) without restoring FIFO 3.
        #expect(waitUntil(seconds: 10) { engine.workerSnapshots()[0].state == "parked" })
        #expect(ThreadScheduling.read(tid: tid) == .other(nice: 5))
    }

    @Test(".park: the worker keeps its policy and parks instead")
    func parkedRest() throws {
        let engine = try IOEngine(configuration: try restConfiguration(.park))
        defer { engine.shutdown() }
        let tid = engine.workerThreadIDs[0]
        var policies = Set<String>()
        let parked = waitUntil(seconds: 5) {
            policies.insert(String(describing: ThreadScheduling.read(tid: tid)))
            return engine.workerSnapshots()[0].parks >= 1
        }
        #expect(parked)
        #expect(policies == [String(describing: SchedulingPolicy.fifo(priority: 3) as SchedulingPolicy?)])
        #expect(engine.workerSnapshots()[0].demotions == 0)
    }

    @Test("the rest mode round-trips through JSON; an unknown one is refused")
    func restCoding() throws {
        let config = try restConfiguration(.demote)
        let data = try JSONEncoder().encode(config)
        #expect(String(decoding: data, as: UTF8.self).contains(#""dutyCycleRest":"demote""#))
        #expect(try JSONDecoder().decode(EngineConfiguration.self, from: data).dutyCycleRest == .demote)
        let defaulted = try JSONDecoder().decode(EngineConfiguration.self, from: Data(#"{"groups":[{"name":"g","workers":1}]}"#.utf8))
        #expect(defaulted.dutyCycleRest == .park)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(EngineConfiguration.self, from: Data(#"{"groups":[{"name":"g","workers":1}],"dutyCycleRest":"sleep"}"#.utf8))
        }
    }
}
