import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

extension OnDemandTests {
    // MARK: overflow

    @Suite("OnDemand: hybrid overflow", .serialized, .tags(.concurrency))
    struct Overflow {
        @Test("a core that never fills never overflows")
        func neverFull() throws {
            let engine = try IOEngine(configuration: EngineConfiguration(
                groups: [.init(name: "h", workers: 1)], ringCapacity: 256, requestsInFlight: 1024, spinBudget: .nanoseconds(0),
                onDemand: EngineConfiguration.OnDemand(overflow: true)))
            defer { engine.shutdown() }
            #expect(engine.mode == .hybrid)
            var inFlight = 0
            var received = 0
            for i in 0..<1000 {
                try engine.submit(.custom(echoCall, context: nil), tag: UInt64(i))
                inFlight += 1
                while inFlight >= 8 { inFlight -= engine.reap(rearm: false) { _ in received += 1 } }
            }
            received += reapAll(engine, count: inFlight).count
            #expect(received == 1000)
            #expect(engine.overflowCount == 0)
            #expect(engine.onDemandStatistics?.threadsCreated == 0)
        }

        @Test("a tiny ring behind a blocked worker overflows; idle overflow workers exit")
        func blockedWorker() throws {
            let before = threadIDs()
            let engine = try IOEngine(configuration: EngineConfiguration(
                groups: [.init(name: "h", workers: 1)], ringCapacity: 2, requestsInFlight: 64, spinBudget: .nanoseconds(0),
                onDemand: EngineConfiguration.OnDemand(maxThreads: 4, idleTimeout: .seconds(0.2), overflow: true)))
            defer { engine.shutdown() }
            let flags = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 2)
            flags.initialize(to: Atomic(0))
            (flags + 1).initialize(to: Atomic(0))
            defer { flags.deallocate() }
            try engine.submit(.custom(blockerCall, context: UnsafeMutableRawPointer(flags)), tag: 1000, placement: .worker(0))
            #expect(waitUntil(seconds: 5) { flags.pointee.load(ordering: .acquiring) == 1 })
            // .worker(i) never overflows (it promises order on that worker).
            for i in 0..<20 { try engine.submit(.custom(echoCall, context: nil), tag: UInt64(i)) }
            var byOnDemand = 0
            var all: [IOCompletion] = []
            let overflowed = engine.overflowCount
            #expect(overflowed > 0 && overflowed <= 20)
            // Overflowed requests complete while the core worker is still blocked.
            let early = reapAll(engine, count: overflowed, seconds: 10)
            #expect(early.count == overflowed)
            #expect(early.allSatisfy { $0.worker == nil })
            all += early
            (flags + 1).pointee.store(1, ordering: .releasing)
            all += reapAll(engine, count: 21 - overflowed, seconds: 10)
            byOnDemand = all.filter { $0.worker == nil }.count
            #expect(all.count == 21)
            #expect(Set(all.map(\.tag)).count == 21)
            #expect(byOnDemand == overflowed)
            #expect(all.first { $0.tag == 1000 }?.result == 7)
            // Back to the preallocated core once the overflow workers idle out.
            #expect(waitUntil(seconds: 10) { onDemandThreadCount() == 0 })
            // Only the preallocated worker (rtio-h-0, joined by shutdown) may remain.
            #expect(waitUntil(seconds: 5) { newThreads(since: before, named: ["rtio-od"]).isEmpty },
                    "left: \(newThreads(since: before, named: ["rtio-od"]))")
        }

        @Test("placement .worker(i) is refused with .full instead of overflowing")
        func pinnedPlacementDoesNotOverflow() throws {
            let engine = try IOEngine(configuration: EngineConfiguration(
                groups: [.init(name: "h", workers: 1)], ringCapacity: 2, requestsInFlight: 64, spinBudget: .nanoseconds(0),
                onDemand: EngineConfiguration.OnDemand(overflow: true)))
            defer { engine.shutdown() }
            let flags = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 2)
            flags.initialize(to: Atomic(0))
            (flags + 1).initialize(to: Atomic(0))
            defer { flags.deallocate() }
            try engine.submit(.custom(blockerCall, context: UnsafeMutableRawPointer(flags)), tag: 0, placement: .worker(0))
            #expect(waitUntil(seconds: 5) { flags.pointee.load(ordering: .acquiring) == 1 })
            var accepted = 0
            var refused = 0
            for i in 1...4 {
                do { try engine.submit(.custom(echoCall, context: nil), tag: UInt64(i), placement: .worker(0)); accepted += 1 } catch {
                    #expect(error == .full)
                    refused += 1
                }
            }
            #expect(refused > 0 && engine.overflowCount == 0)
            (flags + 1).pointee.store(1, ordering: .releasing)
            #expect(reapAll(engine, count: 1 + accepted).count == 1 + accepted)
        }
    }
}
