import CMallocCounter
import CRealtimeIOShims
import Foundation
import PrePatchBaseline
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

extension OnDemandTests {
    // MARK: affinity inheritance (the 2011 bug)

    @Suite("OnDemand: affinity inheritance", .serialized, .tags(.concurrency))
    struct Affinity {
        static let burst = 64

        @Test("patched: workers get the host's CPUs; the pinned submitter creates no thread",
              arguments: [OnDemandPool.Spawner.hostLoop, .spawnerThread])
        func patched(spawner: OnDemandPool.Spawner) throws {
            let hostMask = allowedCPUMask()
            try #require(hostMask & 0b11 == 0b11, "needs CPUs 0 and 1")
            // The pthread_create interposer counts this thread's family: the spawner thread,
            // the submitter and every worker (born from one of them).
            rtio_thread_creation_counter_track(true)
            defer { rtio_thread_creation_counter_track(false) }
            let familyBefore = rtio_thread_creations_tracked()
            let engine = try IOEngine(configuration: onDemandConfiguration(spawner: spawner))
            defer { engine.shutdown() }
            let probes = UnsafeMutablePointer<OnDemandProbe>.allocate(capacity: Self.burst)
            probes.initialize(repeating: OnDemandProbe(sleepMicroseconds: 20_000), count: Self.burst)
            defer { probes.deallocate() }
            let shared = SendablePointer(probes)
            let submitterCreated = SharedCounter()
            // The submitter: pinned to CPU 1, like a vCPU thread.
            let submitter = startThread(name: "od-submitter") {
                pinCallingThread(to: 1)
                for i in 0..<Self.burst {
                    try! engine.submit(.custom(probeCall, context: UnsafeMutableRawPointer(shared[i])), tag: UInt64(i))
                }
                submitterCreated.store(Int(rtio_thread_creations_by_current_thread()))
            }
            let hostBefore = rtio_thread_creations_by_current_thread()
            // This thread is the host loop: reap runs the spawn bottom half.
            var tags = Set<UInt64>()
            let deadline = rtio_monotonic_ns() + 20_000_000_000
            while tags.count < Self.burst && rtio_monotonic_ns() < deadline {
                if engine.reap(rearm: false, { c in
                    #expect(c.result == 0 && c.worker == nil)
                    tags.insert(c.tag)
                }) == 0 { usleep(100) }
            }
            submitter.join()
            #expect(tags.count == Self.burst)
            for i in 0..<Self.burst {
                #expect(probes[i].tid != 0)
                #expect(probes[i].cpuMask == hostMask, "worker \(probes[i].tid) allowed \(String(probes[i].cpuMask, radix: 2))")
            }
            engine.shutdown()  // joins every worker: every creation has been counted
            let stats = try #require(engine.onDemandStatistics)
            let hostCreated = Int(rtio_thread_creations_by_current_thread() - hostBefore)
            #expect(submitterCreated.value == 0)
            // The family's creations: the workers, the submitter and (spawnerThread) the spawner.
            let familyCreated = Int(rtio_thread_creations_tracked() - familyBefore)
            #expect(familyCreated == stats.threadsCreated + 1 + (spawner == .spawnerThread ? 1 : 0))
            #expect(stats.threadsCreated >= 2)
            if spawner == .hostLoop { #expect(hostCreated >= 1) }
        }

        @Test("spawnerThread: a pinned thread that both submits and reaps creates no worker")
        func pinnedHostWithSpawnerThread() throws {
            let hostMask = allowedCPUMask()
            try #require(hostMask & 0b11 == 0b11, "needs CPUs 0 and 1")
            // Created here (all CPUs): the spawner thread, and so every worker, keeps them.
            let engine = try IOEngine(configuration: onDemandConfiguration(spawner: .spawnerThread))
            defer { engine.shutdown() }
            let probes = UnsafeMutablePointer<OnDemandProbe>.allocate(capacity: Self.burst)
            probes.initialize(repeating: OnDemandProbe(sleepMicroseconds: 20_000), count: Self.burst)
            defer { probes.deallocate() }
            let shared = SendablePointer(probes)
            let hostCreated = SharedCounter()
            let received = SharedCounter()
            startThread(name: "od-host") {
                pinCallingThread(to: 1)
                for i in 0..<Self.burst {
                    try! engine.submit(.custom(probeCall, context: UnsafeMutableRawPointer(shared[i])), tag: UInt64(i))
                    received.add(engine.reap(rearm: false) { _ in })
                }
                let deadline = rtio_monotonic_ns() + 20_000_000_000
                while received.value < Self.burst && rtio_monotonic_ns() < deadline {
                    let n = engine.reap(rearm: false) { _ in }
                    if n == 0 { usleep(100) } else { received.add(n) }
                }
                hostCreated.store(Int(rtio_thread_creations_by_current_thread()))
            }.join()
            #expect(received.value == Self.burst)
            for i in 0..<Self.burst { #expect(probes[i].cpuMask == hostMask) }
            #expect(hostCreated.value == 0)
        }

        @Test("pre-patch baseline: the pinned submitter creates the workers, all on its CPU")
        func prePatch() throws {
            try #require(allowedCPUMask() & 0b11 == 0b11, "needs CPUs 0 and 1")
            let slab = try RequestSlab(count: Self.burst)
            let completed = SharedCounter()
            let pool = try PrePatchBaselinePool(
                slab: slab, maxThreads: 64, idleTimeout: .milliseconds(200), onCompletion: { _ in completed.add() })
            let probes = UnsafeMutablePointer<OnDemandProbe>.allocate(capacity: Self.burst)
            probes.initialize(repeating: OnDemandProbe(sleepMicroseconds: 20_000), count: Self.burst)
            defer { probes.deallocate() }
            let shared = SendablePointer(probes)
            let submitterCreated = SharedCounter()
            let submitter = startThread(name: "od-submitter") {
                pinCallingThread(to: 1)
                for i in 0..<Self.burst {
                    let slot = slab.acquire()!
                    fillCustom(slab, slot, probeCall, UnsafeMutableRawPointer(shared[i]))
                    try! pool.submit(slot)
                }
                submitterCreated.store(Int(rtio_thread_creations_by_current_thread()))
            }
            submitter.join()
            #expect(waitUntil(seconds: 20) { completed.value == Self.burst })
            for i in 0..<Self.burst {
                #expect(probes[i].cpuMask == 0b10, "worker \(probes[i].tid) allowed \(String(probes[i].cpuMask, radix: 2))")
            }
            let created = pool.statistics.threadsCreated
            #expect(created >= 2)
            #expect(submitterCreated.value == created)
            pool.shutdown()
            for slot in 0..<UInt32(Self.burst) { slab.release(slot) }
        }
    }

    // MARK: the chain

}
