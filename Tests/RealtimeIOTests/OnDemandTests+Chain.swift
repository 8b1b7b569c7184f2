import CMallocCounter
import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

extension OnDemandTests {
    // MARK: the chain

    @Suite("OnDemand: spawn chain and idle exit", .serialized, .tags(.concurrency))
    struct Chain {
        @Test("one bottom half, newborns create the rest; idle workers exit")
        func chain() throws {
            let burst = 64
            let before = threadIDs()
            let slab = try RequestSlab(count: burst)
            let completed = SharedCounter()
            let pool = try OnDemandPool(
                slab: slab, configuration: .init(maxThreads: 64, idleTimeout: .milliseconds(200), spawner: .hostLoop),
                onCompletion: { _ in completed.add() })
            let probes = UnsafeMutablePointer<OnDemandProbe>.allocate(capacity: burst)
            probes.initialize(repeating: OnDemandProbe(sleepMicroseconds: 20_000), count: burst)
            defer { probes.deallocate() }
            let shared = SendablePointer(probes)
            startThread {
                for i in 0..<burst {
                    let slot = slab.acquire()!
                    fillCustom(slab, slot, probeCall, UnsafeMutableRawPointer(shared[i]))
                    try! pool.submit(slot)
                }
            }.join()
            // Submits create nothing: the whole burst is backlog, one bottom half scheduled.
            var s = pool.statistics
            #expect(s.threadsCreated == 0 && s.currentThreads == burst && s.newThreads == burst && s.pendingThreads == 0)
            #expect(pool.hasPendingSpawns)
            // The host loop. The pthread_create interposer counts its creations, and its
            // family's (the workers, each born from the host or from an earlier worker).
            rtio_thread_creation_counter_track(true)
            defer { rtio_thread_creation_counter_track(false) }
            let hostBefore = rtio_thread_creations_by_current_thread()
            let familyBefore = rtio_thread_creations_tracked()
            var hostRuns = 0
            let deadline = rtio_monotonic_ns() + 20_000_000_000
            while completed.value < burst && rtio_monotonic_ns() < deadline {
                hostRuns += pool.processPendingSpawns()
                usleep(100)
            }
            #expect(completed.value == burst)
            // The chain may still be creating (early workers can take several requests):
            // the whole backlog is created, by newborns.
            #expect(waitUntil(seconds: 10) { let t = pool.statistics; return t.newThreads == 0 && t.pendingThreads == 0 })
            s = pool.statistics
            let host = Int(rtio_thread_creations_by_current_thread() - hostBefore)
            #expect(host == 1 && hostRuns == 1, "the bottom half created \(host)")
            #expect(s.threadsCreated == burst)
            #expect(Int(rtio_thread_creations_tracked() - familyBefore) == burst)
            #expect(s.peakThreads <= 64)
            // Idle workers leave after 200 ms.
            #expect(waitUntil(seconds: 10) { onDemandThreadCount() == 0 && pool.statistics.currentThreads == 0 })
            #expect(waitUntil(seconds: 5) { newThreads(since: before, named: ["rtio-od"]).isEmpty },
                    "left: \(newThreads(since: before, named: ["rtio-od"]))")
            pool.shutdown()
            #expect(pool.statistics.idleThreads == 0)
            for slot in 0..<UInt32(burst) { slab.release(slot) }
        }

        @Test("maxThreads is never exceeded")
        func bounded() throws {
            let engine = try IOEngine(configuration: onDemandConfiguration(spawner: .hostLoop, maxThreads: 8))
            defer { engine.shutdown() }
            let probes = UnsafeMutablePointer<OnDemandProbe>.allocate(capacity: 64)
            probes.initialize(repeating: OnDemandProbe(sleepMicroseconds: 5_000), count: 64)
            defer { probes.deallocate() }
            for i in 0..<64 { try engine.submit(.custom(probeCall, context: UnsafeMutableRawPointer(probes + i)), tag: UInt64(i)) }
            let all = reapAll(engine, count: 64, seconds: 20)
            #expect(all.count == 64)
            let s = try #require(engine.onDemandStatistics)
            #expect(s.peakThreads <= 8 && s.peakThreads >= 1)
            #expect(Set((0..<64).map { probes[$0].tid }).count <= s.threadsCreated)
        }
    }
}
