import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Engine: cancel", .serialized)
struct EngineCancelTests {

    @Test("a request queued behind a stuck worker: .cancelled, completes once with ECANCELED while the worker is still stuck, never runs",
          .tags(.concurrency))
    func cancelBehindStuckWorker() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, slots: 8))
        let hold = Hold(), counter = RunCounter()
        // Released on every exit: shutdown waits for the held worker.
        defer { hold.release(); engine.shutdown() }
        try engine.submit(hold.request, tag: 1)
        try #require(hold.waitStarted())
        let handle = try engine.submit(counter.request, tag: 2)
        #expect(engine.cancel(handle) == .cancelled)
        // Delivered by the canceller: reapable before the worker moves on.
        let early = reapAll(engine, count: 1)
        #expect(early == [IOCompletion(tag: 2, result: -Int(ECANCELED), worker: 0)])
        #expect(engine.cancel(handle) == .alreadyDone)
        // Two slots in use: the stuck request's, and the cancelled one's until the worker passes its ring entry.
        #expect(engine.core.slab.quiescentFreeCount() == 6)
        hold.release()
        let rest = reapAll(engine, count: 1)
        #expect(rest.map(\.tag) == [1] && rest.first?.result == 0)
        #expect(waitUntil(seconds: 10) { engine.core.slab.quiescentFreeCount() == 8 })
        #expect(counter.runs == 0)
        #expect(reapAll(engine, count: 1, seconds: 0.2).isEmpty, "a second completion")
        #expect(engine.workerSnapshots()[0].cancelled == 1)
    }

    @Test("a waiter that consumes the canceller's notification still finds the cancelled completion",
          .tags(.concurrency))
    func waitFindsCancelledCompletion() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, slots: 8))
        let hold = Hold()
        defer { hold.release(); engine.shutdown() }
        try engine.submit(hold.request, tag: 1)
        try #require(hold.waitStarted())
        let counter = RunCounter()
        let handle = try engine.submit(counter.request, tag: 2)
        // The cancel writes the eventfd; the wait's re-arm consumes that write, and its
        // re-check must see the completion the canceller posted (the worker is stuck:
        // nothing else will ever write). Before the fix it slept the whole timeout.
        #expect(engine.cancel(handle) == .cancelled)
        #expect(engine.waitForCompletions(timeout: .seconds(20)), "the wait missed the cancelled completion")
        var tags: [UInt64] = []
        _ = engine.reap { tags.append($0.tag) }
        #expect(tags == [2] && counter.runs == 0)
    }

    @Test("the running request: .running, completes normally", .tags(.concurrency))
    func cancelRunning() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, slots: 8))
        let hold = Hold()
        // Released on every exit: shutdown waits for the held worker.
        defer { hold.release(); engine.shutdown() }
        let handle = try engine.submit(hold.request, tag: 1)
        try #require(hold.waitStarted())
        #expect(engine.cancel(handle) == .running)
        hold.release()
        #expect(reapAll(engine, count: 1) == [IOCompletion(tag: 1, result: 0, worker: 0)])
        #expect(engine.cancel(handle) == .alreadyDone)
    }

    @Test("finished before reap, after reap: .alreadyDone")
    func cancelFinished() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, slots: 8))
        defer { engine.shutdown() }
        let counter = RunCounter()
        let handle = try engine.submit(counter.request, tag: 3)
        #expect(waitUntil(seconds: 10) { counter.runs == 1 })
        #expect(waitUntil(seconds: 10) { engine.cancel(handle) == .alreadyDone })  // finished, not reaped
        #expect(reapAll(engine, count: 1) == [IOCompletion(tag: 3, result: 7, worker: 0)])
        #expect(engine.cancel(handle) == .alreadyDone)
    }

    @Test("a stale handle never cancels the request that reuses its slot", .tags(.concurrency))
    func staleHandle() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 2, slots: 4))
        let hold = Hold(), first = RunCounter(), second = RunCounter()
        // Released on every exit: shutdown waits for the held worker.
        defer { hold.release(); engine.shutdown() }
        try engine.submit(hold.request, tag: 1, placement: .worker(0))
        try #require(hold.waitStarted())
        let old = try engine.submit(first.request, tag: 2, placement: .worker(1))
        #expect(reapAll(engine, count: 1).map(\.tag) == [2])
        // The free list is LIFO: the next submit takes the slot just freed.
        let reused = try engine.submit(second.request, tag: 3, placement: .worker(0))
        try #require(reused.slot == old.slot)
        #expect(reused != old)
        #expect(engine.cancel(old) == .alreadyDone)
        hold.release()
        let rest = reapAll(engine, count: 2)
        #expect(Set(rest.map(\.tag)) == [1, 3])
        #expect(rest.first { $0.tag == 3 }?.result == 7)
        #expect(second.runs == 1)
    }

    @Test("cancel racing the worker's dequeue: every request completes exactly once, run iff not cancelled",
          .tags(.concurrency))
    func raceWithDequeue() throws {
        // Spinning workers dequeue at once; a second thread cancels each request as soon as
        // its handle is published: both orders of the compare-exchange and the fetch-or occur.
        let engine = try IOEngine(configuration: testConfiguration(workers: 2, slots: 64, spin: 200_000))
        defer { engine.shutdown() }
        let iterations = scaled(1000)
        let counter = RunCounter()
        let published = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: 1)
        published.initialize(to: Atomic(0))
        defer { published.deallocate() }
        let shared = SendablePointer(published)
        let outcomes = UnsafeMutablePointer<CancelResult>.allocate(capacity: iterations)
        defer { outcomes.deallocate() }
        let outcomesShared = SendablePointer(outcomes)
        let done = SharedCounter()
        let canceller = startThread(name: "canceller") {
            for i in 0..<iterations {
                var raw: UInt64 = 0
                // Bounded wait for the i-th handle (the submitter publishes it).
                for _ in 0..<200_000_000 {
                    raw = shared.pointee.pointee.load(ordering: .acquiring)
                    if raw != 0 { break }
                }
                guard let handle = RequestHandle(rawValue: raw) else { return }
                shared.pointee.pointee.store(0, ordering: .releasing)
                outcomesShared[i].initialize(to: engine.cancel(handle))
                done.add()
            }
        }
        var completions: [IOCompletion] = []
        completions.reserveCapacity(iterations)
        for i in 0..<iterations {
            var handle: RequestHandle?
            while handle == nil {
                do { handle = try engine.submit(counter.request, tag: UInt64(i)) } catch { engine.reap(rearm: false) { completions.append($0) } }
            }
            shared.pointee.pointee.store(handle!.rawValue, ordering: .releasing)
            let deadline = rtio_monotonic_ns() + 10_000_000_000
            while done.value <= i && rtio_monotonic_ns() < deadline { engine.reap(rearm: false) { completions.append($0) } }
            try #require(done.value > i, "the canceller stopped at \(i)")
        }
        canceller.join()
        completions += reapAll(engine, count: iterations - completions.count)
        try #require(completions.count == iterations)
        #expect(Set(completions.map(\.tag)).count == iterations, "a request completed twice")
        var cancelled = 0
        for c in completions {
            let outcome = outcomes[Int(c.tag)]
            if outcome == .cancelled {
                cancelled += 1
                #expect(c.result == -Int(ECANCELED))
            } else {
                #expect(c.result == 7, "tag \(c.tag): \(outcome) but result \(c.result)")
            }
        }
        #expect(counter.runs == iterations - cancelled)
        #expect(reapAll(engine, count: 1, seconds: 0.2).isEmpty)
        #expect(waitUntil(seconds: 10) { engine.core.slab.quiescentFreeCount() == 64 })
        print("cancel-vs-dequeue: \(cancelled) of \(iterations) cancelled before the dequeue")
    }

    @Test("on-demand mode: a request queued behind the only, stuck on-demand worker is cancelled", .tags(.concurrency))
    func onDemand() throws {
        let engine = try IOEngine(configuration: onDemandConfiguration(spawner: .spawnerThread, maxThreads: 1, slots: 8))
        let hold = Hold(), counter = RunCounter()
        // Released on every exit: shutdown waits for the held worker.
        defer { hold.release(); engine.shutdown() }
        try engine.submit(hold.request, tag: 1)
        try #require(hold.waitStarted())
        let handle = try engine.submit(counter.request, tag: 2)
        #expect(engine.cancel(handle) == .cancelled)
        #expect(reapAll(engine, count: 1) == [IOCompletion(tag: 2, result: -Int(ECANCELED), worker: nil)])
        let running = engine.cancel(handle)
        #expect(running == .alreadyDone)
        hold.release()
        #expect(reapAll(engine, count: 1).map(\.tag) == [1])
        #expect(waitUntil(seconds: 10) { engine.core.slab.quiescentFreeCount() == 8 })
        #expect(counter.runs == 0)
    }

    @Test("workerHandler delivery: the handler gets the cancelled completion once, on the cancelling thread",
          .tags(.concurrency))
    func workerHandler() throws {
        let log = HandlerLog()
        let (engine, hold) = try engineWithHeldWorker { $0.completionDelivery = log.delivery }
        let counter = RunCounter()
        // Released on every exit: shutdown waits for the held worker.
        defer { hold.release(); engine.shutdown() }
        let handle = try engine.submit(counter.request, tag: 2)
        #expect(engine.cancel(handle) == .cancelled)
        let atCancel = log.snapshot
        #expect(atCancel.count == 1 && atCancel.first?.0 == IOCompletion(tag: 2, result: -Int(ECANCELED), worker: 0))
        #expect(atCancel.first?.1 == rtio_gettid())
        hold.release()
        #expect(waitUntil(seconds: 10) { log.count == 2 })
        #expect(waitUntil(seconds: 10) { engine.core.slab.quiescentFreeCount() == 8 })
        #expect(counter.runs == 0 && log.count == 2)
    }

    @Test("cancel, then shutdown(.cancel): every request completes exactly once", .tags(.concurrency))
    func cancelThenShutdownCancel() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, slots: 16))
        let hold = Hold(), counter = RunCounter()
        try engine.submit(hold.request, tag: 100)
        try #require(hold.waitStarted())
        var handles: [RequestHandle] = []
        for i in 0..<10 { handles.append(try engine.submit(counter.request, tag: UInt64(i))) }
        for i in stride(from: 0, to: 10, by: 2) { #expect(engine.cancel(handles[i]) == .cancelled) }
        let shutdown = startThread { engine.shutdown(.cancel) }
        #expect(waitUntil(seconds: 10) { engine.isShutDown })
        hold.release()
        shutdown.join()
        let all = reapAll(engine, count: 11)
        #expect(all.count == 11 && Set(all.map(\.tag)).count == 11)
        #expect(all.filter { $0.result == -Int(ECANCELED) }.count == 10)
        #expect(counter.runs == 0)
        #expect(engine.core.slab.quiescentFreeCount() == 16)
    }
}
