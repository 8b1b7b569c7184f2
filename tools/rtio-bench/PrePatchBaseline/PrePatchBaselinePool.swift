// THE DELIBERATELY BUGGY BASELINE. Benchmark (and its tests) only; never ship it.

import RealtimeIOLinux
import CRealtimeIOShims
import RealtimeIO
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// QEMU's posix-aio-compat thread pool *before* its 2011 latency fix, kept
/// only as the baseline of `rtio-bench … --engines prepatch`. Use RealtimeIO's
/// on-demand mode (or an ``IOEngine``) instead.
///
/// ## The bug, on purpose
/// With no idle worker and fewer than `maxThreads`, ``submit(_:)`` creates a
/// worker itself: `pthread_create` on the submitting thread, inside `submit`,
/// while it holds the queue lock (QEMU's `spawn_thread()` called from
/// `qemu_paio_submit`). A burst therefore pays one `pthread_create` per
/// request on the submitter, under the lock, and every worker inherits the
/// submitter's CPU affinity and scheduling: a submitter pinned to one CPU piles
/// all its workers onto that CPU.
///
/// ## Everything else
/// One queue under one lock, idle workers on a futex semaphore that exit after
/// `idleTimeout`, the drain/cancel shutdown and the failure handling of the
/// fixed pool (a failed creation is undone; with no worker left, queued
/// requests complete with `-errno`). Workers are named `rtio-od`, have a 256 KiB
/// stack and start with every signal blocked, like the fixed pool's.
package final class PrePatchBaselinePool: @unchecked Sendable {
    /// A consistent snapshot of the counters (taken under the lock).
    package struct Statistics: Sendable, Equatable {
        /// Workers alive or being born.
        package var currentThreads: Int
        /// Highest `currentThreads` seen.
        package var peakThreads: Int
        /// Workers successfully created over the pool's life (all by submitters).
        package var threadsCreated: Int
        /// `pthread_create` failures.
        package var creationFailures: Int
        /// Requests run (or cancelled) and handed to `onCompletion`.
        package var completed: Int
    }

    private enum Lifecycle { case running, draining, cancelling, stopped }

    private struct State: ~Copyable {
        var queue: SlotFIFO
        var lifecycle = Lifecycle.running
        var current = 0
        var idle = 0
        var peak = 0
        var created = 0
        var failures = 0
        var completed = 0
        var lastCreationError: Errno? = nil
        var liveTIDs: [pid_t]
        /// The last worker to exit, joined by the next one to exit or by shutdown.
        var lastExited: pthread_t? = nil

        init(capacity: Int, maxThreads: Int) {
            queue = SlotFIFO(capacity: capacity)
            liveTIDs = []
            liveTIDs.reserveCapacity(maxThreads)
        }
    }

    private let slab: RequestSlab
    private let maxThreads: Int
    private let idleTimeoutNanoseconds: UInt64
    private let onCompletion: @Sendable (UInt32) -> Void
    private let state: AnnotatedMutex<State>
    private let idleWake = FutexSemaphore()
    private static let workerAttributes = ThreadAttributes(stackSize: 256 * 1024, name: "rtio-od")

    /// - Parameters:
    ///   - slab: the records submitted slot indices refer to; outlives the pool.
    ///   - onCompletion: runs on the worker thread once per submitted slot, after
    ///     `result` is set. It must not block.
    /// - Throws: `Errno.invalidArgument` when `maxThreads < 1` or `idleTimeout <= 0`.
    package init(
        slab: RequestSlab, maxThreads: Int = 64, idleTimeout: Duration = .seconds(10),
        onCompletion: @escaping @Sendable (UInt32) -> Void
    ) throws(Errno) {
        guard maxThreads >= 1, idleTimeout > .zero else { throw .invalidArgument }
        self.slab = slab
        self.maxThreads = maxThreads
        let (seconds, attoseconds) = idleTimeout.components
        idleTimeoutNanoseconds = UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
        self.onCompletion = onCompletion
        state = AnnotatedMutex(State(capacity: slab.count, maxThreads: maxThreads))
    }

    deinit { shutdown(.drain) }

    /// Queues `slot` and — the bug — may create a worker on the calling thread, under the lock.
    /// - Throws: ``SubmitError/shutDown`` after ``shutdown(_:)`` began; nothing was queued.
    package func submit(_ slot: UInt32) throws(SubmitError) {
        enum Outcome { case refused, queued(wakeIdle: Bool, failQueue: Bool) }
        let outcome = state.withLock { s -> Outcome in
            guard s.lifecycle == .running else { return .refused }
            let pushed = s.queue.push(slot)
            precondition(pushed, "baseline queue overflow: slot \(slot) submitted twice")
            guard s.idle == 0 && s.current < maxThreads else {
                return .queued(wakeIdle: s.idle > 0, failQueue: false)
            }
            s.current += 1
            s.peak = max(s.peak, s.current)
            s.created += 1
            // THE BUG: pthread_create right here — on the submitting thread, whose CPU
            // affinity and scheduling the worker inherits, while holding the queue lock.
            guard case .failure(let error) = Self.createWorker({ [self] in workerMain() }) else {
                return .queued(wakeIdle: false, failQueue: false)
            }
            s.created -= 1
            s.current -= 1
            s.failures += 1
            s.lastCreationError = error
            return .queued(wakeIdle: false, failQueue: s.current == 0)
        }
        switch outcome {
        case .refused: throw .shutDown
        case .queued(let wakeIdle, let failQueue):
            if wakeIdle { idleWake.post() }
            if failQueue { failQueuedForNoThread() }
        }
    }

    /// pthread_create with every signal blocked on the calling thread meanwhile (the worker
    /// starts with all of them blocked) and no explicit affinity or scheduling: inherited.
    private static func createWorker(_ body: @escaping @Sendable () -> Void) -> Result<NativeThread, Errno> {
        var all = sigset_t()
        var old = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        do { return .success(try NativeThread.spawn(attributes: workerAttributes, body)) } catch { return .failure(error) }
    }

    private func workerMain() {
        let tid = rtio_gettid()
        state.withLock { $0.liveTIDs.append(tid) }
        enum Step { case run(UInt32), wait, exit(previous: pthread_t?) }
        var countedIdle = false
        var justCompleted = false
        var timedOut = false
        var idleDeadline: UInt64 = 0
        while true {
            let step = state.withLock { s -> Step in
                if countedIdle { s.idle -= 1 }
                if justCompleted { s.completed += 1 }
                if let slot = s.queue.pop() { return .run(slot) }
                if s.lifecycle != .running || timedOut {
                    s.current -= 1
                    if let i = s.liveTIDs.firstIndex(of: tid) { s.liveTIDs.swapAt(i, s.liveTIDs.count - 1); s.liveTIDs.removeLast() }
                    let previous = s.lastExited
                    s.lastExited = pthread_self()
                    return .exit(previous: previous)
                }
                s.idle += 1
                return .wait
            }
            justCompleted = false
            switch step {
            case .run(let slot):
                countedIdle = false
                timedOut = false
                idleDeadline = 0
                finish(slot, result: RequestExecution.run(slab.record(slot)))
                justCompleted = true
            case .wait:
                countedIdle = true
                if idleDeadline == 0 { idleDeadline = rtio_monotonic_ns() &+ idleTimeoutNanoseconds }
                timedOut = !idleWake.wait(untilNanoseconds: idleDeadline)
            case .exit(let previous):
                if let previous { pthread_join(previous, nil) }
                return
            }
        }
    }

    private func finish(_ slot: UInt32, result: Int) {
        slab.record(slot).pointee.result = result
        onCompletion(slot)
    }

    /// No worker exists and none could be created: complete what is queued with the error.
    private func failQueuedForNoThread() {
        while let (slot, error) = state.withLock({ s -> (UInt32, Errno)? in
            guard s.current == 0, let slot = s.queue.pop() else { return nil }
            s.completed += 1
            return (slot, s.lastCreationError ?? .resourceTemporarilyUnavailable)
        }) {
            finish(slot, result: -Int(error.rawValue))
        }
    }

    /// Refuses new submits, runs (`.drain`) or completes with `-ECANCELED` (`.cancel`) every
    /// queued request, waits for every worker to exit and joins them. Idempotent.
    package func shutdown(_ mode: ShutdownMode = .drain) {
        let first = state.withLock { s -> Bool in
            guard s.lifecycle == .running else { return false }
            s.lifecycle = mode == .drain ? .draining : .cancelling
            return true
        }
        guard first else { return }
        if mode == .cancel {
            while let slot = state.withLock({ s -> UInt32? in
                guard let slot = s.queue.pop() else { return nil }
                s.completed += 1
                return slot
            }) {
                finish(slot, result: -Int(ECANCELED))
            }
        }
        idleWake.post(maxThreads)
        while true {
            let (current, idle) = state.withLock { ($0.current, $0.idle) }
            if current == 0 { break }
            if idle > 0 { idleWake.post(idle) }
            usleep(200)
        }
        let last = state.withLock { s -> pthread_t? in
            s.lifecycle = .stopped
            defer { s.lastExited = nil }
            return s.lastExited
        }
        if let last { pthread_join(last, nil) }
    }

    package var statistics: Statistics {
        state.withLock { s in
            Statistics(currentThreads: s.current, peakThreads: s.peak, threadsCreated: s.created,
                       creationFailures: s.failures, completed: s.completed)
        }
    }

    /// Linux tids of the workers running now.
    package var workerThreadIDs: [pid_t] { state.withLock { Array($0.liveTIDs) } }
}
