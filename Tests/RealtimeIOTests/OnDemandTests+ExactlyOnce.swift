import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

extension OnDemandTests {
    // MARK: exactly once

    enum StressMode: String, CaseIterable, Sendable { case hostLoop, spawnerThread, hybrid }

    @Suite("OnDemand: exactly once", .serialized, .tags(.concurrency))
    struct ExactlyOnce {
        @Test("several producers, every tag completes once", arguments: StressMode.allCases)
        func stress(mode: StressMode) throws {
            let producers = 4
            let perProducer = scaled(2_500)
            let total = producers * perProducer
            let config: EngineConfiguration
            switch mode {
            case .hostLoop: config = onDemandConfiguration(spawner: .hostLoop, maxThreads: 4, slots: 256)
            case .spawnerThread: config = onDemandConfiguration(spawner: .spawnerThread, maxThreads: 4, slots: 256)
            case .hybrid:
                config = EngineConfiguration(
                    groups: [.init(name: "h", workers: 1)], ringCapacity: 2, requestsInFlight: 256,
                    spinBudget: .nanoseconds(0),
                    onDemand: EngineConfiguration.OnDemand(maxThreads: 4, idleTimeout: .seconds(0.2), overflow: true))
            }
            let engine = try IOEngine(configuration: config)
            let done = SharedCounter()
            var threads: [NativeThread] = []
            for p in 0..<producers {
                threads.append(startThread {
                    for i in 0..<perProducer {
                        let tag = UInt64(p * perProducer + i)
                        while true {
                            do {
                                try engine.submit(.custom(echoCall, context: UnsafeMutableRawPointer(bitPattern: UInt(tag + 1))), tag: tag)
                                break
                            } catch {
                                #expect(error as? SubmitError == .full)
                                sched_yield()
                            }
                        }
                    }
                    done.add()
                })
            }
            var seen = [UInt8](repeating: 0, count: total)
            var received = 0
            var wrong = 0
            let deadline = rtio_monotonic_ns() + 60_000_000_000
            while received < total && rtio_monotonic_ns() < deadline {
                if engine.reap(rearm: false, { c in
                    seen[Int(c.tag)] &+= 1
                    if c.result != Int(c.tag) + 1 { wrong += 1 }
                    received += 1
                }) == 0 { sched_yield() }
            }
            for t in threads { t.join() }
            engine.shutdown()
            engine.reap(rearm: false) { _ in received += 1 }
            #expect(received == total)
            #expect(wrong == 0)
            #expect(seen.allSatisfy { $0 == 1 })
            if mode == .hybrid { #expect(engine.mode == .hybrid) } else { #expect(engine.mode == .onDemand) }
        }
    }
}
