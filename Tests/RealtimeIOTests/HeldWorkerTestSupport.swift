import Synchronization
import CRealtimeIOShims
@testable import RealtimeIO

#if canImport(Glibc)
import Glibc
#endif

/// Context of ``holdWorker``: word 0 is set when the call starts, word 1
/// releases it, word 2 is what it returns.
let holdWorker: CustomBlockingCall = { context in
    let words = context!.assumingMemoryBound(to: Atomic<Int>.self)
    words[0].store(1, ordering: .releasing)
    while words[1].load(ordering: .acquiring) == 0 { usleep(100) }
    return words[2].load(ordering: .relaxed)
}

/// Counts its runs in the Atomic<Int> behind the context; returns 7.
let countRun: CustomBlockingCall = { context in
    context!.assumingMemoryBound(to: Atomic<Int>.self).pointee.add(1, ordering: .acquiringAndReleasing)
    return 7
}

/// A worker held in a blocking call until ``release()``: the stuck worker of
/// the cancellation tests. Release it on every exit of a test (`defer`), or
/// the engine's shutdown waits for it forever.
final class Hold: @unchecked Sendable {
    let words = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 3)
    /// - Parameter result: what the held call returns once released.
    init(result: Int = 0) {
        words.initialize(to: Atomic(0))
        (words + 1).initialize(to: Atomic(0))
        (words + 2).initialize(to: Atomic(result))
    }
    deinit { words.deallocate() }
    var request: IORequest { .custom(holdWorker, context: UnsafeMutableRawPointer(words)) }
    var started: Bool { words[0].load(ordering: .acquiring) != 0 }
    func waitStarted() -> Bool { waitUntil(seconds: 10) { self.started } }
    func release() { words[1].store(1, ordering: .releasing) }
}

/// A run counter for ``countRun``.
final class RunCounter: @unchecked Sendable {
    let word = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
    init() { word.initialize(to: Atomic(0)) }
    deinit { word.deallocate() }
    var runs: Int { word.pointee.load(ordering: .acquiring) }
    var request: IORequest { .custom(countRun, context: UnsafeMutableRawPointer(word)) }
}

/// The held worker did not start its blocking call within 10 s.
struct HeldWorkerDidNotStart: Error {}

/// An engine of one worker (`testConfiguration`, group "t") whose worker is
/// held in a blocking call — the request with tag 1 — until `hold.release()`,
/// so requests submitted next stay queued. `configure` adjusts the
/// configuration first. Release and shut down on every exit:
/// `defer { hold.release(); engine.shutdown() }`.
func engineWithHeldWorker(
    slots: Int = 8, configure: (inout EngineConfiguration) -> Void = { _ in }
) throws -> (engine: IOEngine, hold: Hold) {
    var configuration = testConfiguration(workers: 1, slots: slots)
    configure(&configuration)
    let engine = try IOEngine(configuration: configuration)
    let hold = Hold()
    do {
        try engine.submit(hold.request, tag: 1)
        guard hold.waitStarted() else { throw HeldWorkerDidNotStart() }
    } catch {
        hold.release()
        engine.shutdown()
        throw error
    }
    return (engine, hold)
}

/// The completions a worker handler received, each with the thread it ran on.
final class HandlerLog: Sendable {
    let entries = AnnotatedMutex<[(IOCompletion, pid_t)]>([])
    /// A delivery that appends to this log.
    var delivery: EngineConfiguration.CompletionDelivery {
        .workerHandler { [self] c in self.entries.withLock { $0.append((c, rtio_gettid())) } }
    }
    var count: Int { entries.withLock { $0.count } }
    var snapshot: [(IOCompletion, pid_t)] { entries.withLock { $0 } }
}
