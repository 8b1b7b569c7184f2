import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import Testing

/// The `Cpus_allowed_list` of thread `tid` of this process, as the kernel shows it.
func cpusAllowedList(tid: Int32) throws -> CPUList {
    let status = try #require(ProcStatus.read("/proc/self/task/\(tid)/status"), "thread \(tid) gone")
    return try CPUList(parsing: try #require(status["Cpus_allowed_list"]))
}

/// The mask a thread nobody placed must be born with, and a check that it
/// differs from CPU 0 alone (else a pinned creator proves nothing).
func unpinnedProcessCPUs() throws -> CPUList {
    let cpus = try ProcessCPUs.current()
    let expected = cpus.unpinned
    try #require(expected.count >= 2 && expected.contains(0),
                 "needs a process cpuset of at least CPU 0 and one more (here: \(cpus))")
    return expected
}

/// Runs `body` on a new thread pinned to CPU 0 and returns its result.
func onThreadPinnedToCPU0<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
    let result = Mutex<Result<T, any Error>?>(nil)
    let creator = try NativeThread.spawn(attributes: ThreadAttributes(cpus: [0], name: "pinned-creator")) {
        let r: Result<T, any Error>
        do { r = .success(try body()) } catch { r = .failure(error) }
        result.withLock { $0 = r }
    }
    creator.join()
    return try result.withLock { $0 }!.get()
}

@Suite("Engine: placement at birth without configured CPUs", .serialized)
struct EnginePlacementAtBirthTests {
    @Test("a thread pinned to CPU 0 creates an engine without CPUs: every worker has the process's CPUs")
    func preallocatedWorkers() throws {
        let expected = try unpinnedProcessCPUs()
        let engine = try onThreadPinnedToCPU0 {
            #expect(try SystemTopology.allowedCPUs() == CPUList(parsing: "0"))
            return try IOEngine(configuration: EngineConfiguration(
                groups: [.init(name: "a", workers: 2, scheduling: .other(nice: 0)),
                         .init(name: "b", workers: 1, scheduling: .other(nice: 0))],
                spinBudget: .nanoseconds(0)))
        }
        defer { engine.shutdown() }
        #expect(engine.processCPUs.unpinned == expected)
        #expect(engine.workerThreadIDs.count == 3)
        for tid in engine.workerThreadIDs {
            #expect(try cpusAllowedList(tid: tid) == expected, "worker \(tid)")
        }
    }

    /// The spawner thread is created with the engine; its workers inherit its mask.
    @Test("on-demand spawnerThread created from a thread pinned to CPU 0: its workers have the process's CPUs",
          .tags(.concurrency))
    func spawnerThreadWorkers() throws {
        let expected = try unpinnedProcessCPUs()
        let expectedMask = expected.cpus.filter { $0 < 64 }.reduce(UInt64(0)) { $0 | 1 << UInt64($1) }
        let engine = try onThreadPinnedToCPU0 {
            try IOEngine(configuration: onDemandConfiguration(spawner: .spawnerThread))
        }
        defer { engine.shutdown() }
        let count = 4
        let probes = UnsafeMutablePointer<OnDemandProbe>.allocate(capacity: count)
        probes.initialize(repeating: OnDemandProbe(sleepMicroseconds: 2_000), count: count)
        defer { probes.deallocate() }
        for i in 0..<count {
            try engine.submit(.custom(probeCall, context: UnsafeMutableRawPointer(probes + i)), tag: UInt64(i))
        }
        let completions = reapAll(engine, count: count, seconds: 20)
        #expect(completions.count == count)
        for i in 0..<count {
            #expect(probes[i].tid != 0)
            #expect(probes[i].cpuMask == expectedMask, "worker \(probes[i].tid): \(String(probes[i].cpuMask, radix: 2))")
        }
    }
}
