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

/// Where code runs: tid and scheduling policy.
private struct Place: Sendable, Equatable {
    var tid: pid_t
    var policy: Int32
    static var here: Place { Place(tid: rtio_gettid(), policy: sched_getscheduler(0)) }
}

/// A task executor on its own SCHED_OTHER thread that records the thread each job was enqueued from.
private final class RecordingExecutor: TaskExecutor, @unchecked Sendable {
    private let jobs = AnnotatedMutex<[UnownedJob]>([])
    private let enqueuers = AnnotatedMutex<[Place]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let stop = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)
    private var thread: NativeThread?

    init() {
        thread = try! NativeThread.spawn(attributes: ThreadAttributes(scheduling: .other(nice: 0), name: "rec-exec")) { [self] in
            while !stop.load(ordering: .acquiring) {
                wake.wait()
                while let job = jobs.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
                    running.store(true, ordering: .releasing)
                    job.runSynchronously(on: asUnownedTaskExecutor())
                    running.store(false, ordering: .releasing)
                }
            }
        }
    }

    func enqueue(_ job: UnownedJob) {
        enqueuers.withLock { $0.append(.here) }
        jobs.withLock { $0.append(job) }
        wake.signal()
    }

    var enqueuedFrom: [Place] { enqueuers.withLock { $0 } }

    /// No job runs or waits: every task of this executor is suspended.
    var isIdle: Bool { !running.load(ordering: .acquiring) && jobs.withLock { $0.isEmpty } }

    func shutdown() {
        stop.store(true, ordering: .releasing)
        wake.signal()
        thread?.join()
    }
}

@Suite("Engine: perform and Task cancellation", .serialized)
struct EnginePerformCancellationTests {

    @Test("cancelling the awaiting task withdraws its queued request: CancellationError at once, never run",
          .tags(.concurrency))
    func cancelQueued() async throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, slots: 8))
        let hold = Hold(result: 5), counter = RunCounter()
        // Released on every exit, or shutdown would wait for the held worker forever.
        defer { hold.release(); engine.shutdown() }
        try engine.submit(hold.request, tag: 1)
        try #require(await pollUntil(seconds: 30) { hold.started })
        let task = Task { try await engine.perform(counter.request) }
        // Queued behind the stuck worker.
        try #require(await pollUntil(seconds: 30) { engine.workers[0].ring.approximateCount == 1 })
        task.cancel()
        let result = await task.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(hold.started && counter.runs == 0)
        hold.release()
        #expect(reapAll(engine, count: 1).map(\.result) == [5])
        #expect(waitUntil(seconds: 10) { engine.core.slab.quiescentFreeCount() == 8 })
        #expect(counter.runs == 0)
    }

    @Test("cancelling the task while its request runs: the request completes normally and perform returns its result",
          .tags(.concurrency))
    func cancelRunning() async throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, slots: 8))
        let hold = Hold(result: 5)
        defer { hold.release(); engine.shutdown() }
        let task = Task { try await engine.perform(hold.request) }
        try #require(await pollUntil(seconds: 30) { hold.started })
        task.cancel()
        hold.release()
        #expect(try await task.value == 5)
    }

    @Test("a task cancelled before perform throws CancellationError and submits nothing")
    func cancelledBefore() async throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, slots: 8))
        defer { engine.shutdown() }
        let counter = RunCounter()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await engine.perform(counter.request)
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(counter.runs == 0 && engine.workerSnapshots()[0].submitted == 0)
    }

    @Test("the code after await never runs on a real-time worker; the worker only enqueues the task on its executor",
          .tags(.concurrency, .needsRoot))
    func resumesOffTheWorker() async throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, scheduling: .fifo(priority: 10), slots: 8))
        let hold = Hold(result: 5), counter = RunCounter()
        defer { hold.release(); engine.shutdown() }
        let worker = engine.workers[0].tid
        try #require(sched_getscheduler(worker) == SCHED_FIFO, "the worker is not SCHED_FIFO: run as root (tools/setup)")
        // The global concurrent executor: many awaits, each resumed by the SCHED_FIFO worker.
        for _ in 0..<scaled(200) {
            _ = try await engine.perform(counter.request)
            let place = Place.here
            #expect(place.tid != worker && place.policy == SCHED_OTHER, "after await on \(place)")
        }
        // A task-executor preference: the worker calls its enqueue; the job runs on the executor's thread.
        // The request is held until the task has suspended (the executor is idle), so the worker's
        // resume is the one that enqueues it.
        let executor = RecordingExecutor()
        let releaser = startThread {
            _ = waitUntil(seconds: 10) { hold.started && executor.isIdle }
            hold.release()
        }
        let after = try await withTaskExecutorPreference(executor) { () async throws -> Place in
            _ = try await engine.perform(hold.request)
            return Place.here
        }
        releaser.join()
        executor.shutdown()
        #expect(after.tid != worker && after.policy == SCHED_OTHER)
        #expect(executor.enqueuedFrom.contains { $0.tid == worker }, "the worker resumed: \(executor.enqueuedFrom)")
    }

    @Test("a fresh process: no executor thread is born from the SCHED_FIFO worker, code after await runs SCHED_OTHER",
          .tags(.concurrency, .needsRoot))
    func freshProcess() throws {
        let host = builtProduct("rtio-testhost")
        try requireExecutable(host)
        for _ in 0..<3 {
            let (status, output) = try runProcess(host, ["--async-resume", "--count", "50"])
            try #require(status == 0, "rtio-testhost --async-resume: \(output) (needs root: SCHED_FIFO under required)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
            #expect(json["worker_policy"] as? Int == Int(SCHED_FIFO))
            let worker = json["worker_tid"] as? Int
            let places = json["after_await"] as? [[String: Int]] ?? []
            #expect(places.count == 50)
            for place in places { #expect(place["tid"] != worker && place["policy"] == Int(SCHED_OTHER), "\(place)") }
            #expect((json["fifo_threads"] as? [Int]) == [], "SCHED_FIFO threads besides the worker: \(output)")
        }
    }
}
