import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

extension OnDemandTests {
    // MARK: shutdown

    struct ShutdownCase: Sendable, CustomTestStringConvertible {
        var spawner: OnDemandPool.Spawner
        var drain: Bool
        var testDescription: String { "\(spawner.rawValue), \(drain ? "drain" : "cancel")" }
    }

    @Suite("OnDemand: shutdown", .serialized, .tags(.concurrency))
    struct Shutdown {
        @Test("shutdown while threads are being born loses nothing and leaks no thread", arguments: [
            ShutdownCase(spawner: .hostLoop, drain: true), ShutdownCase(spawner: .hostLoop, drain: false),
            ShutdownCase(spawner: .spawnerThread, drain: true), ShutdownCase(spawner: .spawnerThread, drain: false),
        ])
        func whileBeingBorn(c: ShutdownCase) throws {
            let before = threadIDs()
            for round in 0..<5 {
                let engine = try IOEngine(configuration: onDemandConfiguration(spawner: c.spawner))
                let probes = UnsafeMutablePointer<OnDemandProbe>.allocate(capacity: 64)
                probes.initialize(repeating: OnDemandProbe(sleepMicroseconds: 2_000), count: 64)
                defer { probes.deallocate() }
                for i in 0..<64 { try engine.submit(.custom(probeCall, context: UnsafeMutableRawPointer(probes + i)), tag: UInt64(i)) }
                // hostLoop: run the bottom half in some rounds, so the chain is mid-way.
                if round % 2 == 1 { engine.processEvents() }
                engine.shutdown(c.drain ? .drain : .cancel)
                var tags: [UInt64: Int] = [:]
                var ran = 0
                var cancelled = 0
                engine.reap(rearm: false) { completion in
                    tags[completion.tag, default: 0] += 1
                    if completion.result == 0 { ran += 1 } else if completion.result == -Int(ECANCELED) { cancelled += 1 }
                }
                #expect(tags.count == 64 && tags.values.allSatisfy { $0 == 1 })
                #expect(ran + cancelled == 64)
                if c.drain { #expect(ran == 64) }
                let s = try #require(engine.onDemandStatistics)
                #expect(s.currentThreads == 0 && s.pendingThreads == 0 && s.newThreads == 0 && s.idleThreads == 0)
                #expect(s.completed == 64)
                #expect(throws: SubmitError.shutDown) { try engine.submit(.custom(echoCall, context: nil), tag: 0) }
                // Every thread joined: none left (a joined task may linger for microseconds).
                #expect(waitUntil(seconds: 2) { onDemandThreadCount() == 0 })
            }
            #expect(waitUntil(seconds: 5) { newThreads(since: before, named: ["rtio-od"]).isEmpty },
                    "left: \(newThreads(since: before, named: ["rtio-od"]))")
        }
    }
}
