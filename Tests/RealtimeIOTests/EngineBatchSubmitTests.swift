import CMallocCounter
import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

/// A batch of `count` echo calls whose context (and so result) is the tag.
private func echoBatch(_ tags: Range<UInt64>) -> [IOSubmission] {
    tags.map { IOSubmission(.custom(echoCall, context: UnsafeMutableRawPointer(bitPattern: UInt($0))), tag: $0) }
}

/// Free request slots now (takes them all, then gives them back; quiescent engine only).
private func freeSlots(_ engine: IOEngine) -> Int {
    var taken: [UInt32] = []
    while let slot = engine.core.slab.acquire() { taken.append(slot) }
    for slot in taken { engine.core.slab.release(slot) }
    return taken.count
}

@Suite("Engine: batch submit", .serialized)
struct EngineBatchSubmitTests {
    @Test("a batch goes to one worker through one claim and runs in order")
    func oneClaimInOrder() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 2, ring: 64))
        defer { engine.shutdown() }
        let ring = engine.rings[1].takeUnretainedValue()
        let positionBefore = ring.enqueuePosition.pointee.load(ordering: .relaxed)
        try engine.submit(contentsOf: echoBatch(1..<33), placement: .worker(1))
        #expect(ring.enqueuePosition.pointee.load(ordering: .relaxed) - positionBefore == 32)
        let all = reapAll(engine, count: 32)
        #expect(all.map(\.tag) == Array(1..<33), "worker 1 runs the batch in batch order")
        #expect(all.allSatisfy { $0.worker == 1 && $0.result == Int($0.tag) })
    }

    @Test("a batch returns its requests' handles: one cancelled behind a stuck worker never runs, the others do",
          .tags(.concurrency))
    func batchHandlesCancel() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, slots: 16))
        let hold = Hold()
        defer { hold.release(); engine.shutdown() }
        try engine.submit(hold.request, tag: 100)
        try #require(hold.waitStarted())
        let counters = (0..<4).map { _ in RunCounter() }
        let batch = counters.enumerated().map { IOSubmission($1.request, tag: UInt64($0)) }
        let handles = UnsafeMutableBufferPointer<RequestHandle>.allocate(capacity: 4)
        defer { handles.deallocate() }
        try batch.withUnsafeBufferPointer { try engine.submit(batch: $0, placement: .worker(0), handles: handles) }
        #expect(Set(handles).count == 4, "four distinct handles")
        #expect(engine.cancel(handles[2]) == .cancelled)
        #expect(reapAll(engine, count: 1) == [IOCompletion(tag: 2, result: -Int(ECANCELED), worker: 0)])
        hold.release()
        let rest = reapAll(engine, count: 4)
        #expect(Set(rest.map(\.tag)) == [0, 1, 3, 100])
        #expect(counters.map(\.runs) == [1, 1, 0, 1])
        #expect(engine.cancel(handles[0]) == .alreadyDone && engine.cancel(handles[2]) == .alreadyDone)
        // Too small a handle buffer is refused before anything is taken.
        let two = UnsafeMutableBufferPointer<RequestHandle>.allocate(capacity: 2)
        defer { two.deallocate() }
        #expect(throws: BatchSubmitError.batchTooLarge(count: 4, limit: 2)) {
            try batch.withUnsafeBufferPointer { try engine.submit(batch: $0, handles: two) }
        }
    }

    @Test("an invalid request refuses the whole batch, naming its index; nothing runs")
    func invalidRequestRefusesAll() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        defer { engine.shutdown() }
        var batch = echoBatch(0..<8)
        let file = try TemporaryFile(size: 4096)
        batch[5] = IOSubmission(.fallocate(file.fd, .allocate, at: -1, length: 10), tag: 99)
        #expect(throws: BatchSubmitError.invalidRequest(index: 5, .invalidRange(offset: -1, length: 10))) {
            try engine.submit(contentsOf: batch)
        }
        #expect(engine.reap(waitingUpTo: .milliseconds(50)) { _ in } == 0)
        #expect(freeSlots(engine) == 1024)
    }

    @Test("too few slots or ring cells: the batch is refused whole, every slot freed")
    func fullRefusesAll() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, ring: 16, slots: 32))
        defer { engine.shutdown() }
        let flag = UnsafeMutablePointer<Atomic<Bool>>.allocate(capacity: 1)
        flag.initialize(to: Atomic(false))
        defer { flag.deallocate() }
        // Hold the worker, then fill 12 of its 16 cells.
        try engine.submit(.custom(blockUntilReleased, context: UnsafeMutableRawPointer(flag)), tag: 1000)
        #expect(waitUntil(seconds: 10) { engine.rings[0].takeUnretainedValue().approximateCount == 0 })
        try engine.submit(contentsOf: echoBatch(0..<12))
        // 8 more do not fit in the 4 free cells: refused, slots back.
        #expect(throws: BatchSubmitError.refused(.full)) { try engine.submit(contentsOf: echoBatch(100..<108)) }
        #expect(freeSlots(engine) == 32 - 13)
        // 4 fit.
        try engine.submit(contentsOf: echoBatch(200..<204))
        // More than the ring can ever hold.
        #expect(throws: BatchSubmitError.batchTooLarge(count: 17, limit: 16)) { try engine.submit(contentsOf: echoBatch(0..<17)) }
        flag.pointee.store(true, ordering: .releasing)
        let tags = reapAll(engine, count: 17).map(\.tag)
        #expect(tags.sorted() == [UInt64](0..<12) + [UInt64](200..<204) + [1000])
    }

    @Test("after shutdown a batch is refused with shutDown")
    func shutDown() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        engine.shutdown()
        #expect(throws: BatchSubmitError.refused(.shutDown)) { try engine.submit(contentsOf: echoBatch(0..<4)) }
        #expect(throws: BatchSubmitError.refused(.noSuchWorker(3))) {
            let e2 = try IOEngine(configuration: testConfiguration(workers: 1))
            defer { e2.shutdown() }
            try e2.submit(contentsOf: echoBatch(0..<4), placement: .worker(3))
        }
    }

    @Test("on-demand mode: a batch runs on the pool, all or nothing", .tags(.concurrency),
          arguments: [OnDemandPool.Spawner.hostLoop, .spawnerThread])
    func onDemand(spawner: OnDemandPool.Spawner) throws {
        let engine = try IOEngine(configuration: onDemandConfiguration(spawner: spawner, maxThreads: 2, slots: 16))
        defer { engine.shutdown() }
        try engine.submit(contentsOf: echoBatch(0..<10))
        #expect(throws: BatchSubmitError.refused(.full)) { try engine.submit(contentsOf: echoBatch(10..<17)) }
        #expect(throws: BatchSubmitError.batchTooLarge(count: 17, limit: 16)) { try engine.submit(contentsOf: echoBatch(0..<17)) }
        var tags: [UInt64] = []
        while tags.count < 10, engine.reap(waitingUpTo: .seconds(10), { tags.append($0.tag) }) > 0 {}
        #expect(tags.sorted() == Array(0..<10))
        #expect(tags.count == 10)
    }

    @Test("hybrid: a batch that does not fit its ring overflows to the pool as a whole", .tags(.concurrency))
    func hybridOverflow() throws {
        var config = testConfiguration(workers: 1, ring: 8, slots: 64)
        config.onDemand = EngineConfiguration.OnDemand(maxThreads: 2, idleTimeout: .seconds(0.2), overflow: true)
        let engine = try IOEngine(configuration: config)
        defer { engine.shutdown() }
        try engine.submit(contentsOf: echoBatch(0..<20))
        #expect(engine.overflowCount == 20)
        var tags: [UInt64] = []
        while tags.count < 20, engine.reap(waitingUpTo: .seconds(10), { tags.append($0.tag) }) > 0 {}
        #expect(tags.sorted() == Array(0..<20))
    }
}

@Suite("Engine: batch submit exactly once", .serialized, .tags(.concurrency))
struct EngineBatchConcurrencyTests {
    /// Four threads submit batches of 1…16 into small rings and few slots, so
    /// that many batches are refused whole and retried, while the test thread
    /// reaps. Every tag of an accepted batch must complete exactly once, and
    /// no tag of a refused batch ever (each retry uses fresh tags).
    @Test("several submitting threads: accepted batches complete exactly once, refused ones never")
    func exactlyOnce() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 2, ring: 16, slots: 48))
        let threads = 4
        let batchesPerThread = scaled(400)
        let accepted = SharedCounter()
        let finished = SharedCounter()
        let acceptedTags = AnnotatedMutex<Set<UInt64>>([])
        let failures = FailureLog()
        var workers: [NativeThread] = []
        for t in 0..<threads {
            workers.append(startThread { [engine] in
                var attempt: UInt64 = 0
                for b in 0..<batchesPerThread {
                    let size = b % 16 + 1
                    while true {
                        // Tags: thread | attempt | index; a refused attempt's tags are never reused.
                        let base = UInt64(t) << 48 | attempt << 8
                        attempt += 1
                        let batch = echoBatch(base..<base + UInt64(size))
                        let outcome: BatchSubmitError?
                        do throws(BatchSubmitError) {
                            try engine.submit(contentsOf: batch, placement: b % 3 == 0 ? .worker(b % 2) : .leastLoaded)
                            outcome = nil
                        } catch {
                            outcome = error
                        }
                        if outcome == nil {
                            acceptedTags.withLock { for s in batch { $0.insert(s.tag) } }
                            accepted.add(size)
                            break
                        }
                        if outcome != .refused(.full) {
                            failures.record("thread \(t) batch \(b): \(outcome!)")
                            finished.add()
                            return
                        }
                        sched_yield()
                    }
                }
                finished.add()
            })
        }
        var seen: [UInt64: Int] = [:]
        func take(_ c: IOCompletion) {
            seen[c.tag, default: 0] += 1
            if c.result != Int(truncatingIfNeeded: c.tag) { failures.record("tag \(c.tag) result \(c.result)") }
        }
        // Reap until every submitter is done and every accepted request came back (bounded).
        let deadline = rtio_monotonic_ns() + 120_000_000_000
        while rtio_monotonic_ns() < deadline {
            engine.reap(waitingUpTo: .milliseconds(20), take)
            if finished.value == threads && seen.count >= accepted.value { break }
        }
        for w in workers { w.join() }
        engine.shutdown()
        while engine.reap(waitingUpTo: .zero, take) > 0 {}
        let expected = acceptedTags.withLock { $0 }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
        #expect(expected.count == accepted.value)
        #expect(seen.values.allSatisfy { $0 == 1 }, "a completion arrived twice")
        #expect(Set(seen.keys) == expected, "missing \(expected.subtracting(seen.keys).count), unexpected \(Set(seen.keys).subtracting(expected).count)")
    }
}

@Suite("Engine: batch submit allocates nothing", .serialized, .tags(.allocationCounting))
struct EngineBatchAllocationTests {
    @Test("batches of 32: 0 allocations on submit(batch:) and reap")
    func noAllocations() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 2, ring: 64, slots: 256))
        defer { engine.shutdown() }
        let batch = UnsafeMutableBufferPointer<IOSubmission>.allocate(capacity: 32)
        defer { batch.deallocate() }
        for i in 0..<32 { batch.initializeElement(at: i, to: IOSubmission(.custom(echoCall, context: nil), tag: UInt64(i))) }
        let array = Array(batch)
        var delivered = 0
        func round(_ k: Int) throws {
            if k % 2 == 0 { try engine.submit(batch: UnsafeBufferPointer(batch)) } else { try engine.submit(contentsOf: array) }
            var got = 0
            while got < 32 { got += engine.reap(waitingUpTo: .seconds(10)) { _ in delivered += 1 } }
        }
        for k in 0..<16 { try round(k) }
        let rounds = 500
        rtio_malloc_counter_track(true)
        let before = rtio_malloc_counter_thread_allocations()
        for k in 0..<rounds { try round(k) }
        let after = rtio_malloc_counter_thread_allocations()
        rtio_malloc_counter_track(false)
        #expect(delivered == (16 + rounds) * 32)
        #expect(after - before == 0, "\(after - before) allocations in \(rounds) batches of 32")
    }
}
