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

/// Records the thread it ran on (its tid) in the Atomic<Int> behind the context; returns 11.
private let recordThread: CustomBlockingCall = { context in
    context!.assumingMemoryBound(to: Atomic<Int>.self).pointee.store(Int(rtio_gettid()), ordering: .releasing)
    return 11
}

/// A file whose second 4 KiB page holds a known pattern (byte i = i × multiplier + 1),
/// and a zeroed, page-aligned buffer to read it into. `deallocate()` the buffer.
private struct PatternedPage {
    let file: TemporaryFile
    let pattern: [UInt8]
    let buffer: UnsafeMutableRawBufferPointer

    init(multiplier: Int) throws {
        let file = try TemporaryFile(size: 8192)
        let pattern = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* multiplier &+ 1) }
        _ = pattern.withUnsafeBytes { pwrite(file.fd.rawValue, $0.baseAddress, 4096, 4096) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        (self.file, self.pattern, self.buffer) = (file, pattern, buffer)
    }

    func deallocate() { buffer.deallocate() }
}

@Suite("Engine: serveHere", .serialized)
struct ServeHereTests {

    @Test("a read queued behind a stuck worker is served on the calling thread: its bytes, one completion, the worker skips it",
          .tags(.concurrency))
    func readBehindStuckWorker() throws {
        let (engine, hold) = try engineWithHeldWorker()
        // Released on every exit: shutdown waits for the held worker.
        defer { hold.release(); engine.shutdown() }
        let page = try PatternedPage(multiplier: 7)
        defer { page.deallocate() }
        let (file, pattern, buffer) = (page.file, page.pattern, page.buffer)
        let handle = try engine.submit(.read(file.fd, into: buffer, at: 4096), tag: 2)
        #expect(engine.serveHere(handle) == .served)
        // Ran before serveHere returned, on this thread, while the worker is still stuck.
        #expect(Array(buffer) == pattern)
        #expect(reapAll(engine, count: 1) == [IOCompletion(tag: 2, result: 4096, worker: nil)])
        #expect(engine.serveHere(handle) == .alreadyDone)
        #expect(engine.cancel(handle) == .alreadyDone)
        // Its slot stays taken until the worker passes its ring entry.
        #expect(engine.core.slab.quiescentFreeCount() == 6)
        hold.release()
        #expect(reapAll(engine, count: 1).map(\.tag) == [1])
        #expect(waitUntil(seconds: 10) { engine.core.slab.quiescentFreeCount() == 8 })
        #expect(reapAll(engine, count: 1, seconds: 0.2).isEmpty, "a second completion")
        let worker = engine.workerSnapshots()[0]
        // Not a cancellation, not an error: counted as served by the host.
        #expect(worker.cancelled == 0 && worker.errors == 0)
        #expect(worker.readsBySubmitters == 1)
        // And rtio-admin's copy (the status file's counter block) follows, with no rest in between.
        #expect(waitUntil(seconds: 10) { engine.workers[0].counters[.readsBySubmitters] == 1 },
                "status copy: \(engine.workers[0].counters[.readsBySubmitters])")
    }

    @Test("a custom request served here runs on the serving thread, once", .tags(.concurrency))
    func customRunsOnCaller() throws {
        let (engine, hold) = try engineWithHeldWorker()
        defer { hold.release(); engine.shutdown() }
        let ranOn = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        ranOn.initialize(to: Atomic(0))
        defer { ranOn.deallocate() }
        let handle = try engine.submit(.custom(recordThread, context: UnsafeMutableRawPointer(ranOn)), tag: 2)
        #expect(engine.serveHere(handle) == .served)
        #expect(ranOn.pointee.load(ordering: .acquiring) == Int(rtio_gettid()))
        #expect(reapAll(engine, count: 1) == [IOCompletion(tag: 2, result: 11, worker: nil)])
        ranOn.pointee.store(0, ordering: .releasing)
        hold.release()
        #expect(reapAll(engine, count: 1).map(\.tag) == [1])
        #expect(waitUntil(seconds: 10) { engine.core.slab.quiescentFreeCount() == 8 })
        #expect(ranOn.pointee.load(ordering: .acquiring) == 0, "the worker ran it too")
    }

    @Test("the running request: .running, completes normally; finished: .alreadyDone; a stale handle serves nothing",
          .tags(.concurrency))
    func runningFinishedStale() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, slots: 4))
        let hold = Hold()
        defer { hold.release(); engine.shutdown() }
        let held = try engine.submit(hold.request, tag: 1)
        try #require(hold.waitStarted())
        #expect(engine.serveHere(held) == .running)
        hold.release()
        #expect(reapAll(engine, count: 1) == [IOCompletion(tag: 1, result: 0, worker: 0)])
        #expect(engine.serveHere(held) == .alreadyDone)
        // The free list is LIFO: the next submit reuses the slot; the old handle must not serve it.
        let counter = RunCounter()
        let reused = try engine.submit(counter.request, tag: 2)
        #expect(reused.slot == held.slot && reused != held)
        #expect(engine.serveHere(held) == .alreadyDone)
        #expect(reapAll(engine, count: 1) == [IOCompletion(tag: 2, result: 7, worker: 0)])
        #expect(counter.runs == 1)
        #expect(engine.serveHere(RequestHandle(slot: 1_000_000, generation: 1)) == .alreadyDone)
    }

    @Test("serveHere racing the worker's dequeue: every request runs exactly once and completes exactly once",
          .tags(.concurrency))
    func raceWithDequeue() throws {
        // A spinning worker dequeues at once; this thread serves each request right
        // after submitting it: both orders of the compare-exchange and the fetch-or occur.
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, slots: 64, spin: 200_000))
        defer { engine.shutdown() }
        let iterations = scaled(2000)
        let counter = RunCounter()
        var served = 0, running = 0, done = 0
        var completions: [IOCompletion] = []
        completions.reserveCapacity(iterations)
        for i in 0..<iterations {
            var handle: RequestHandle?
            while handle == nil {
                do { handle = try engine.submit(counter.request, tag: UInt64(i)) } catch { engine.reap(rearm: false) { completions.append($0) } }
            }
            // Every third request waits a little, so the worker sometimes wins.
            if i % 3 == 0 { for _ in 0..<Int.random(in: 0..<200) { rtio_cpu_relax() } }
            switch engine.serveHere(handle!) {
            case .served: served += 1
            case .running: running += 1
            case .alreadyDone: done += 1
            }
            engine.reap(rearm: false) { completions.append($0) }
        }
        completions += reapAll(engine, count: iterations - completions.count)
        try #require(completions.count == iterations)
        #expect(Set(completions.map(\.tag)).count == iterations, "a request completed twice")
        #expect(completions.allSatisfy { $0.result == 7 })
        #expect(completions.filter { $0.worker == nil }.count == served)
        #expect(counter.runs == iterations, "runs \(counter.runs): served \(served), running \(running), done \(done)")
        #expect(reapAll(engine, count: 1, seconds: 0.2).isEmpty)
        #expect(waitUntil(seconds: 10) { engine.core.slab.quiescentFreeCount() == 64 })
        #expect(waitUntil(seconds: 10) { engine.workerSnapshots()[0].readsBySubmitters == served })
        print("serveHere-vs-dequeue: served \(served), running \(running), already done \(done) of \(iterations)")
    }

    @Test("workerHandler delivery: the handler gets the served completion once, on the serving thread",
          .tags(.concurrency))
    func workerHandler() throws {
        let log = HandlerLog()
        let (engine, hold) = try engineWithHeldWorker { $0.completionDelivery = log.delivery }
        let counter = RunCounter()
        defer { hold.release(); engine.shutdown() }
        let handle = try engine.submit(counter.request, tag: 2)
        #expect(engine.serveHere(handle) == .served)
        let entries = log.snapshot
        #expect(entries.count == 1 && entries.first?.0 == IOCompletion(tag: 2, result: 7, worker: nil))
        #expect(entries.first?.1 == rtio_gettid())
        hold.release()
        #expect(waitUntil(seconds: 10) { log.count == 2 })
        #expect(counter.runs == 1)
        #expect(engine.workerSnapshots()[0].readsBySubmitters == 1)
    }

    @Test("reap(spinFor:serving:after:): the wait serves a request the stuck worker never takes, and not before its time",
          .tags(.concurrency))
    func waitServes() throws {
        let (engine, hold) = try engineWithHeldWorker()
        let counter = RunCounter()
        defer { hold.release(); engine.shutdown() }
        let handle = try engine.submit(counter.request, tag: 2)
        // A spin shorter than `after`: the wait times out and nothing is served.
        var got: [IOCompletion] = []
        let early = engine.reap(
            waitingUpTo: .milliseconds(20), spinFor: .milliseconds(5), serving: handle, after: .seconds(10)) { got.append($0) }
        #expect(early == 0 && got.isEmpty && counter.runs == 0)
        // Within the spin: served here after 200 µs, delivered by this call.
        let start = rtio_monotonic_ns()
        let n = engine.reap(waitingUpTo: .seconds(20), spinFor: .seconds(10), serving: handle, after: .microseconds(200)) {
            got.append($0)
        }
        #expect(rtio_monotonic_ns() &- start >= 200_000)
        #expect(n == 1 && got == [IOCompletion(tag: 2, result: 7, worker: nil)])
        #expect(counter.runs == 1)
        // A request the worker takes is its own: released, the worker runs both.
        let second = RunCounter()
        try engine.submit(second.request, tag: 3)
        hold.release()
        #expect(reapAll(engine, count: 2).map(\.tag).sorted() == [1, 3])
        #expect(second.runs == 1 && counter.runs == 1)
        #expect(engine.workerSnapshots()[0].readsBySubmitters == 1)
    }

    /// A SCHED_FIFO host pinned to its worker's CPU, above the worker's priority:
    /// while the host runs, the worker cannot, so a read the host submits and then
    /// waits for would wait until the host gives the CPU up — a spin that ends only
    /// by sleeping. The engine's wait serves it instead: the read runs on the host
    /// within the spin, and the worker (once it runs again) skips the cell.
    @Test("a FIFO host on its worker's CPU: the wait serves the read the worker cannot reach",
          .tags(.concurrency, .needsRoot))
    func fifoHostOnWorkerCPU() throws {
        let config = EngineConfiguration(
            groups: [.init(name: "fh", workers: 1, cpus: try CPUList(parsing: "1"), scheduling: .fifo(priority: 3))],
            ringCapacity: 8, requestsInFlight: 8, privilegePolicy: .required, spinBudget: .milliseconds(100))
        let engine = try IOEngine(configuration: config)
        defer { engine.shutdown() }
        let page = try PatternedPage(multiplier: 13)
        defer { page.deallocate() }
        let (file, pattern, buffer) = (page.file, page.pattern, page.buffer)
        let log = HandlerLog()
        let fd = file.fd
        let base = UInt(bitPattern: buffer.baseAddress)  // written only by the read, read after join
        let host = try NativeThread.spawn(
            attributes: ThreadAttributes(cpus: [1], scheduling: .fifo(priority: 20), name: "fifo-host")
        ) {
            // Running here, on CPU 1 at FIFO 20: the worker (FIFO 3, CPU 1 only) is not.
            let into = UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(bitPattern: base), count: 4096)
            guard let handle = try? engine.submit(.read(fd, into: into, at: 4096), tag: 9) else { return }
            // Bounded: 2 s of spin at most, and only if serving failed (the worker then
            // completes the read once the wait sleeps, with its own index: the test fails).
            _ = engine.reap(waitingUpTo: .seconds(5), spinFor: .seconds(2), serving: handle, after: .microseconds(50)) { c in
                log.entries.withLock { $0.append((c, rtio_gettid())) }
            }
        }
        host.join()
        let got = log.snapshot
        #expect(got.map(\.0) == [IOCompletion(tag: 9, result: 4096, worker: nil)], "\(got)")
        #expect(Array(buffer) == pattern)
        // The worker passes the cell without running it: not a cancellation, counted as served by the host.
        #expect(waitUntil(seconds: 10) { engine.core.slab.quiescentFreeCount() == 8 })
        let worker = engine.workerSnapshots()[0]
        #expect(worker.cancelled == 0 && worker.errors == 0 && worker.readsBySubmitters == 1)
    }

    @Test("perform (async) served here: the awaiting task gets the real result", .tags(.concurrency))
    func performServed() async throws {
        let (engine, hold) = try engineWithHeldWorker()
        let counter = RunCounter()
        defer { hold.release(); engine.shutdown() }
        // The async caller has no handle: a submit with a continuation is what
        // perform makes; serve the only other queued slot by scanning handles.
        let request = counter.request
        let task = Task { try await engine.perform(request) }
        // The perform's slot is the next one the LIFO free list hands out after tag 1's.
        var servedResult: ServeHereResult = .alreadyDone
        let deadline = rtio_monotonic_ns() + 10_000_000_000
        outer: while rtio_monotonic_ns() < deadline {
            for slot in 0..<UInt32(8) {
                let word = engine.core.slab.state(slot).pointee.load(ordering: .acquiring)
                let generation = RequestState.generation(word)
                guard word & RequestState.phaseMask == RequestState.queued, generation != 0 else { continue }
                servedResult = engine.serveHere(RequestHandle(slot: slot, generation: generation))
                if servedResult == .served { break outer }
            }
            // Suspends, never blocks: the perform task may need this very thread
            // (the cooperative pool has one thread per CPU, two here).
            try await Task.sleep(for: .microseconds(100))
        }
        #expect(servedResult == .served)
        // Not served: the worker must run it, or the await below never returns.
        if servedResult != .served { hold.release() }
        #expect(try await task.value == 7)
        #expect(counter.runs == 1)
        hold.release()
        #expect(reapAll(engine, count: 1).map(\.tag) == [1])
    }
}

@Suite("Engine: real-time share charges the CPU the kernel bills")
struct RealtimeShareCPUTests {
    /// CPU time the kernel bills to a worker between the engine's clock reads
    /// (a rest slice's wake-up, a fault) counts against the next window: the
    /// worker's real real-time use stays at its share. Without the carry a
    /// worker with 10 µs slices ran at 93–95 % of its CPU with an 85 % share
    /// and reached the kernel's RT throttle (ms stalls).
    @Test("CPU burnt while the share thinks the worker sleeps is carried into the next window")
    func unchargedCPUIsCarried() throws {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: WorkerCounters.byteCount, alignment: 128)
        defer { memory.deallocate() }
        let counters = WorkerCounters(initializing: memory)
        let allowance: Int64 = 5_000_000  // 50 % of a 10 ms window
        let t0 = rtio_monotonic_ns()
        var share = RealtimeShare(allowanceNanoseconds: allowance, rest: .slices, counters: counters, now: t0)
        share.willSleep(now: t0, restoringPolicy: false)
        // 3 ms of this thread's CPU, counted by the thread's own CPU clock: exact
        // however long the wall clock takes on a loaded machine.
        let cpuStart = rtio_thread_cpu_ns()
        var sink: UInt64 = 0
        while rtio_thread_cpu_ns() &- cpuStart < 3_000_000 { sink &+= 1 }
        #expect(sink > 0)
        // The sleep "ends" at its start: nothing of the burn is charged by the wall clock.
        share.waitEnded(now: t0)
        // The next window: its share starts with the 3 ms the kernel billed.
        let next = t0 &+ UInt64(RealtimeShare.windowNanoseconds)
        share.account(now: next)
        let spin = try #require(Self.spin(of: share.planWait(budget: 1_000_000_000, idleNanoseconds: 0, now: next, hasWork: false)))
        #expect(spin <= allowance - 3_000_000, "spin \(spin) ns: the uncharged 3 ms were not carried")
        #expect(spin > 0)
        // The window after it owes nothing more (the carry is not charged twice).
        let after = next &+ UInt64(RealtimeShare.windowNanoseconds)
        share.account(now: after)
        let spin2 = try #require(Self.spin(of: share.planWait(budget: 1_000_000_000, idleNanoseconds: 0, now: after, hasWork: false)))
        #expect(spin2 > allowance - 1_000_000, "spin \(spin2) ns after a window without burn")
    }

    /// The spin of a `.wait` plan; nil for a rest.
    private static func spin(of plan: RealtimeShare.WaitPlan) -> Int64? {
        if case .wait(let spin, _) = plan { return spin }
        return nil
    }
}
