import CMallocCounter
import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Submits one echo request to worker 0 (or the pool) and returns when its
/// completion is in the rings and the worker has announced it (or skipped
/// the announcement because the flag was already set).
private func postCompletion(_ engine: IOEngine, tag: UInt64) throws {
    try engine.submit(.custom(echoCall, context: nil), tag: tag, placement: engine.workerCount > 0 ? .worker(0) : .leastLoaded)
    if engine.workerCount > 0 {
        let posted = waitUntil(seconds: 30) {
            !engine.completionRings[0].takeUnretainedValue().isEmpty
                && engine.core.hostNotified.pointee.load(ordering: .acquiring)
        }
        precondition(posted, "worker 0 did not complete an echo call in 30 s")
    }
}

@Suite("Engine: waiting for completions", .serialized, .tags(.concurrency))
struct EngineWaitTests {
    /// The forced race: the completion is posted exactly between the wait's
    /// last empty check and its sleep — before the re-arm, and after the
    /// re-arm's re-check. Either way the wait must return true without its
    /// sleep timing out. Sleeping without re-arming, or re-arming without
    /// re-checking, sleeps through it (the timeout then ends the wait: the
    /// test fails instead of hanging).
    @Test("a completion posted between the last empty check and the sleep is never missed",
          arguments: [IOEngine.WaitStep.beforeRearm, .beforeSleep])
    func forcedRace(at step: IOEngine.WaitStep) throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        defer { engine.shutdown() }
        let rounds = scaled(200)
        var missed = 0
        var notReady = 0
        for round in 0..<rounds {
            var injected = false
            let ready = engine.waitForCompletions(deadline: IOEngine.deadline(.seconds(10)), spinNanoseconds: 0) { at in
                if at == .woke(timedOut: true) { missed += 1 }
                guard at == step, !injected else { return }
                injected = true
                try! postCompletion(engine, tag: UInt64(round))
            }
            if !ready { notReady += 1 }
            #expect(injected)
            // Take it without re-arming: the flag stays set, as a host that
            // reaps with rearm: false leaves it (the hardest state for the next wait).
            var tags: [UInt64] = []
            _ = waitUntil(seconds: 10) { engine.reap(rearm: false) { tags.append($0.tag) } > 0 || !tags.isEmpty }
            #expect(tags == [UInt64(round)])
            if missed > 0 || !ready { break }  // one miss fails the test; do not wait out every round
        }
        #expect(missed == 0, "the wait slept through \(missed) of \(rounds) completions")
        #expect(notReady == 0)
    }

    /// On-demand mode with the `hostLoop` spawner: the worker for the request
    /// is created by the waiting thread, also when the spawn request lands in
    /// the race window (its notification consumed by the wait's own re-arm).
    @Test("hostLoop on-demand: a spawn requested in the race window is processed", arguments: [IOEngine.WaitStep.beforeRearm, .beforeSleep])
    func hostLoopSpawn(at step: IOEngine.WaitStep) throws {
        let engine = try IOEngine(configuration: onDemandConfiguration(spawner: .hostLoop, maxThreads: 1))
        defer { engine.shutdown() }
        var missed = 0
        for round in 0..<scaled(20, tsanDivisor: 4) {
            var injected = false
            let ready = engine.waitForCompletions(deadline: IOEngine.deadline(.seconds(10)), spinNanoseconds: 0) { at in
                if at == .woke(timedOut: true) { missed += 1 }
                guard at == step, !injected else { return }
                injected = true
                try! engine.submit(.custom(echoCall, context: nil), tag: UInt64(round))
            }
            #expect(ready)
            var got = 0
            _ = waitUntil(seconds: 10) { got += engine.reap(rearm: false) { _ in }; return got > 0 }
            #expect(got == 1)
            if missed > 0 || !ready { break }
        }
        #expect(missed == 0)
    }

    @Test("reap(waitingUpTo:) delivers every completion of a stream, spinning or sleeping", arguments: [0, 20_000])
    func reapWaiting(spinNanoseconds: Int) throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 2))
        defer { engine.shutdown() }
        let count = scaled(2_000)
        var seen = Set<UInt64>()
        var timeouts = 0
        for tag in 0..<count {
            try engine.submit(.custom(echoCall, context: nil), tag: UInt64(tag))
            if tag % 8 == 7 || tag == count - 1 {
                while seen.count <= tag {
                    let n = engine.reap(waitingUpTo: .seconds(10), spinFor: .nanoseconds(spinNanoseconds)) { seen.insert($0.tag) }
                    if n == 0 { timeouts += 1; break }
                }
            }
        }
        #expect(timeouts == 0)
        #expect(seen.count == count)
    }

    @Test("after shutdown, waiting returns false at once when everything was reaped, true while something is left")
    func shutdownEndsTheWait() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        try engine.submit(.custom(echoCall, context: nil), tag: 1)
        engine.shutdown(.drain)
        var slept = 0
        #expect(engine.waitForCompletions(deadline: nil, spinNanoseconds: 0) { if $0 == .beforeSleep { slept += 1 } })
        #expect(engine.reap { _ in } == 1)
        // No deadline: a wait that does not notice the shutdown would never return.
        #expect(!engine.waitForCompletions(deadline: nil, spinNanoseconds: 0) { if $0 == .beforeSleep { slept += 1 } })
        #expect(slept == 0)
        #expect(engine.reap(waitingUpTo: nil) { _ in } == 0)
    }

    /// A host that reaped with `rearm: false` leaves the fd readable (the last
    /// notification's count). An idle wait must consume it and really sleep:
    /// a wait that sleeps without re-arming returns from `poll` at once, over
    /// and over, until its timeout — a busy loop on the host's CPU.
    @Test("an idle wait consumes a stale notification and sleeps (no busy loop)")
    func idleWaitSleeps() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        defer { engine.shutdown() }
        try engine.submit(.custom(echoCall, context: nil), tag: 1)
        var got = 0
        _ = waitUntil(seconds: 10) { got += engine.reap(rearm: false) { _ in }; return got == 1 }
        #expect(got == 1)
        #expect(waitUntil(seconds: 10) { engine.core.hostNotified.pointee.load(ordering: .acquiring) })
        var sleeps = 0
        let ready = engine.waitForCompletions(deadline: IOEngine.deadline(.milliseconds(200)), spinNanoseconds: 0) {
            if $0 == .beforeSleep { sleeps += 1 }
        }
        #expect(!ready)
        #expect(sleeps == 1, "\(sleeps) sleeps in an idle 200 ms wait")
    }

    @Test("a zero timeout re-arms and returns without sleeping")
    func zeroTimeout() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        defer { engine.shutdown() }
        var slept = false
        #expect(!engine.waitForCompletions(deadline: IOEngine.deadline(.zero), spinNanoseconds: 0) { if $0 == .beforeSleep { slept = true } })
        #expect(!slept)
        #expect(!engine.waitForCompletions(timeout: .milliseconds(1)))
    }
}

@Suite("Engine: waiting allocates nothing", .serialized, .tags(.allocationCounting))
struct EngineWaitAllocationTests {
    @Test("submit, waitForCompletions, reap: 0 allocations per request on the host thread")
    func noAllocations() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        defer { engine.shutdown() }
        var sum: UInt64 = 0
        // Warm up (first-use paths, lazy statics).
        for tag in 0..<64 {
            try engine.submit(.custom(echoCall, context: nil), tag: UInt64(tag))
            _ = engine.reap(waitingUpTo: .seconds(10), spinFor: .microseconds(5)) { sum &+= $0.tag }
        }
        let rounds = 2_000
        rtio_malloc_counter_track(true)
        let before = rtio_malloc_counter_thread_allocations()
        var delivered = 0
        for tag in 0..<rounds {
            try engine.submit(.custom(echoCall, context: nil), tag: UInt64(tag))
            if engine.waitForCompletions(timeout: .seconds(10), spin: .microseconds(tag % 2 == 0 ? 0 : 5)) {
                delivered += engine.reap(rearm: false) { sum &+= $0.tag }
            }
            while delivered <= tag {
                delivered += engine.reap(waitingUpTo: .seconds(10)) { sum &+= $0.tag }
            }
        }
        let after = rtio_malloc_counter_thread_allocations()
        rtio_malloc_counter_track(false)
        #expect(delivered == rounds)
        #expect(after - before == 0, "\(after - before) allocations in \(rounds) submit/wait/reap rounds")
    }
}
