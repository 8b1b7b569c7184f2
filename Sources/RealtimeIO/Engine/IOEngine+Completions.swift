import CRealtimeIOShims
import Synchronization

#if canImport(Glibc)
import Glibc
import RealtimeIOLinux
#endif

/// Completions as an `AsyncSequence`, for hosts that consume them in a task.
extension IOEngine {

    /// The engine's completions, in a task:
    /// ```swift
    /// for await completion in engine.completions() { … }
    /// ```
    ///
    /// The sequence becomes the engine's reaper: do not call
    /// ``reap(maximum:rearm:_:)`` elsewhere while it is iterated (a reap
    /// running elsewhere makes the iterator retry until that reap is done).
    /// It ends after ``shutdown(_:)`` once every completion was delivered, and
    /// when the iterating task is cancelled.
    ///
    /// ## Threads
    /// Waiting never blocks the cooperative pool. The first `next()` that
    /// finds nothing starts one dedicated thread (`rtio-completion`,
    /// `SCHED_OTHER` nice 0, the process's allowed CPUs — never a real-time
    /// worker), which runs ``waitForCompletions(timeout:spin:)`` only while an
    /// iterator is suspended, and resumes it. The iterator itself reaps, one
    /// completion per `next()`, on the task's executor: a slot is freed only
    /// when its completion is consumed, so a slow consumer holds back
    /// submitters instead of growing a buffer. The thread stops and is joined
    /// when the iterator is released.
    ///
    /// Each suspension allocates a continuation; use ``reap(waitingUpTo:spinFor:maximum:_:)``
    /// on a thread of your own where allocation matters. With
    /// ``EngineConfiguration/CompletionDelivery/workerHandler(_:)`` the sequence
    /// stays empty until shutdown.
    ///
    /// - Parameter spin: how long the waiting thread spins before it sleeps.
    public func completions(spin: Duration = .zero) -> CompletionSequence {
        CompletionSequence(engine: self, spinNanoseconds: max(0, spin.nanoseconds))
    }

    /// An `AsyncSequence` of an engine's completions; see ``IOEngine/completions(spin:)``.
    public struct CompletionSequence: AsyncSequence, Sendable {
        /// A completion.
        public typealias Element = IOCompletion
        /// Never fails: errors arrive in ``IOCompletion/result``.
        public typealias Failure = Never

        let engine: IOEngine
        let spinNanoseconds: Int64

        /// An iterator; one per loop. Each owns its waiting thread.
        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(engine: engine, spinNanoseconds: spinNanoseconds)
        }

        /// Delivers completions one at a time; see ``IOEngine/completions(spin:)``.
        public struct AsyncIterator: AsyncIteratorProtocol {
            let engine: IOEngine
            let spinNanoseconds: Int64
            var waiter: CompletionWaiter.Owner?

            /// The next completion; nil after shutdown once all were delivered,
            /// or when the task is cancelled.
            public mutating func next() async -> IOCompletion? {
                while true {
                    if Task.isCancelled { return nil }
                    // Closed first, then reap: a closed engine's completions are all in the rings.
                    let closed = engine.core.lifecycle.pointee.load(ordering: .sequentiallyConsistent) == .closed
                    var completion: IOCompletion?
                    engine.reap(maximum: 1, rearm: false) { completion = $0 }
                    if let completion { return completion }
                    if closed { return nil }
                    if waiter == nil { waiter = CompletionWaiter.Owner(engine: engine, spinNanoseconds: spinNanoseconds) }
                    if let shared = waiter!.shared {
                        await shared.waitUntilReady()
                    } else {
                        // No thread could be created: poll, without blocking the pool.
                        try? await Task.sleep(for: .milliseconds(1))
                    }
                }
            }
        }
    }
}

/// The waiting thread behind ``IOEngine/CompletionSequence``.
///
/// Handshake: a suspended iterator stores its continuation and posts
/// `requests`; the thread takes the token, waits for completions (its sleep
/// also ends when `stopFD` is written), and resumes whatever continuation is
/// stored. A cancelled task resumes its own continuation (`onCancel`), so
/// the thread may find none: it then waits for the next token. Extra tokens
/// cost the thread one more wait, never a lost resume.
final class CompletionWaiter: @unchecked Sendable {
    struct State {
        var continuation: CheckedContinuation<Void, Never>?
        var cancelled = false
    }

    let engine: IOEngine
    let spinNanoseconds: Int64
    let state = AnnotatedMutex(State())
    let requests = FutexSemaphore()
    let stopped = Atomic<Bool>(false)
    let stopFD: EventFD

    init(engine: IOEngine, spinNanoseconds: Int64, stopFD: EventFD) {
        self.engine = engine
        self.spinNanoseconds = spinNanoseconds
        self.stopFD = stopFD
    }

    /// Suspends until the thread saw completions, the engine closed, or the task was cancelled.
    func waitUntilReady() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.cancelled { return true }
                    s.continuation = continuation
                    return false
                }
                if resumeNow { continuation.resume() } else { requests.post() }
            }
        } onCancel: {
            let continuation = state.withLock { s -> CheckedContinuation<Void, Never>? in
                s.cancelled = true
                defer { s.continuation = nil }
                return s.continuation
            }
            continuation?.resume()
        }
    }

    /// The thread's loop.
    func run() {
        while true {
            _ = requests.wait(untilNanoseconds: nil)
            if stopped.load(ordering: .acquiring) { return }
            // True: completions; false: the engine closed with none left, or a stop.
            _ = engine.waitForCompletions(deadline: nil, spinNanoseconds: spinNanoseconds, interruptFD: stopFD.rawValue)
            let continuation = state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.continuation = nil }
                return s.continuation
            }
            continuation?.resume()
            if stopped.load(ordering: .acquiring) { return }
        }
    }

    /// Held by one iterator: starts the thread, and stops and joins it when released.
    final class Owner: @unchecked Sendable {
        /// nil when the eventfd or the thread could not be created.
        let shared: CompletionWaiter?
        private let thread: NativeThread?

        init(engine: IOEngine, spinNanoseconds: Int64) {
            guard let stopFD = try? EventFD() else {
                shared = nil
                thread = nil
                return
            }
            let waiter = CompletionWaiter(engine: engine, spinNanoseconds: spinNanoseconds, stopFD: stopFD)
            let attributes = ThreadAttributes(
                cpus: engine.processCPUs.unpinned.cpus, scheduling: .other(nice: 0), stackSize: 256 * 1024,
                name: "rtio-completion")
            if let thread = try? NativeThread.spawn(attributes: attributes, { waiter.run() }) {
                shared = waiter
                self.thread = thread
            } else {
                stopFD.close()
                shared = nil
                thread = nil
            }
        }

        deinit {
            guard let shared, let thread else { return }
            shared.stopped.store(true, ordering: .releasing)
            try? shared.stopFD.write()
            shared.requests.post()
            thread.join()
            shared.stopFD.close()
        }
    }
}
