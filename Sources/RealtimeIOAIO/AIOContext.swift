// POSIX AIO drop-in (LD_PRELOAD librtio-aio.so): the per-process engine and
// the pieces behind aio_read & co. (AIOFunctions.swift exports the C symbols;
// ProcessContext.swift starts one context per process.)
import CRealtimeIOShims
import RealtimeIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The per-process AIO state around one ``IOEngine``: submitting aiocbs,
/// completing them on the worker threads, and raising their notifications.
///
/// ## Pieces
/// - ``inFlight``: the request slots; a slot index is the engine request's tag.
/// - ``completions``: the generation `aio_suspend` and `lio_listio(LIO_WAIT)`
///   sleep on.
/// - ``listIOGroups``: lio_listio(LIO_NOWAIT) batches with a notification.
/// - ``threadNotifier``: the thread that runs `SIGEV_THREAD` functions.
///
/// ## A request's life
/// 1. ``submit(_:opcode:fsyncData:group:)`` (caller's thread) validates the
///    aiocb, claims a slot, records it, sets the aiocb in progress (error code
///    `EINPROGRESS`, release) and hands the request to the engine. On the
///    aio_read/aio_write path it takes no lock and allocates nothing.
/// 2. ``complete(_:)`` (worker thread, `.workerHandler` delivery) copies the
///    notification out of the aiocb, stores the result and state, publishes
///    the error code (release), frees the slot, advances the generation, then
///    raises the notification (a batch's once its last member finished).
///
/// Every piece is created at start; nothing is freed while the process runs
/// (the context is retained for the life of the process image).
final class AIOContext: @unchecked Sendable {
    let engine: IOEngine
    /// The process the context was started in (signals are queued to it).
    let pid: pid_t
    /// Request slots (the engine's `requestsInFlight`).
    let capacity: Int
    let workerCount: Int
    let inFlight: InFlightTable
    let completions: CompletionGeneration
    let listIOGroups: ListIOGroups
    let threadNotifier: ThreadNotifier

    private init(engine: IOEngine, capacity: Int) {
        self.engine = engine
        pid = getpid()
        self.capacity = capacity
        workerCount = engine.workerCount
        inFlight = InFlightTable(capacity: capacity)
        completions = CompletionGeneration()
        listIOGroups = ListIOGroups()
        // One entry per slot and group, plus one.
        threadNotifier = ThreadNotifier(capacity: capacity + ListIOGroups.count + 1)
    }

    // MARK: start

    /// Why a context could not start: printed once by ``ProcessContext``.
    struct StartFailure: Error { var message: String }

    /// The completion handler needs the context, which needs the engine: a box
    /// filled after the engine's init, before any request can complete.
    private final class ContextBox: @unchecked Sendable { var context: AIOContext? }

    /// Starts an engine and its context for this process (under ``ProcessContext``'s lock).
    static func start() -> Result<AIOContext, StartFailure> {
        var configuration: EngineConfiguration
        switch AIOConfiguration.load() {
        case .success(let c): configuration = c
        case .failure(let f): return .failure(f)
        }
        let box = ContextBox()
        configuration.completionDelivery = .workerHandler { completion in box.context!.complete(completion) }  // into the aiocb
        let engine: IOEngine
        do {
            engine = try IOEngine(
                configuration: configuration,
                workerStartHook: WorkerStartHook(blockAllSignals))
        } catch {
            return .failure(StartFailure(message: "cannot start the engine: \(error)"))
        }
        let context = AIOContext(engine: engine, capacity: configuration.requestsInFlight)
        box.context = context
        do {
            try context.threadNotifier.start(cpus: engine.processCPUs.unpinned.cpus)
        } catch {
            // Still usable without C.SIGEV_THREAD: submits asking for it fail with EAGAIN.
            writeDiagnostic("rtio-aio: cannot start the C.SIGEV_THREAD notifier thread: \(error)")
        }
        if let verbose = getenv("RTIO_AIO_VERBOSE"), verbose.pointee != 0, verbose.pointee != 0x30 /* "0" */ {
            writeDiagnostic("rtio-aio: engine started in pid \(getpid()): \(engine.workerCount) workers, \(configuration.requestsInFlight) request slots")
            for degradation in engine.degradations { writeDiagnostic("rtio-aio: \(degradation)") }
        }
        return .success(context)
    }

    // MARK: submit (caller's thread)

    /// Queues one aiocb; returns 0 or an errno value (nothing queued).
    ///
    /// `group` ≥ 0 makes the request a member of that ``ListIOGroups`` group:
    /// its own `aio_sigevent` is neither checked nor raised.
    func submit(_ cb: UnsafeMutablePointer<aiocb>, opcode: Int32, fsyncData: Bool = false, group: Int32 = -1) -> Int32 {
        let fd = cb.pointee.aio_fildes
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0 else { return EBADF }
        let access = flags & O_ACCMODE
        let append = flags & O_APPEND != 0
        if cb.pointee.aio_reqprio < 0 || cb.pointee.aio_reqprio > 20 /* AIO_PRIO_DELTA_MAX */ { return EINVAL }
        if group < 0 {
            let n = withUnsafePointer(to: &cb.pointee.aio_sigevent) { Notification($0) }
            guard n.isValid else { return EINVAL }
            if n.notify == C.SIGEV_THREAD && !threadNotifier.isRunning { return EAGAIN }
        }
        let request: IORequest
        var placement = Placement.leastLoaded
        let fdWorker = Placement.worker(Int(UInt32(bitPattern: fd)) % workerCount)
        switch opcode {
        case C.LIO_READ:
            guard access == O_RDONLY || access == O_RDWR else { return EBADF }
            guard cb.pointee.aio_offset >= 0, cb.pointee.aio_nbytes >= 0 else { return EINVAL }
            request = .read(FileDescriptor(rawValue: fd),
                            into: UnsafeMutableRawBufferPointer(start: cb.pointee.aio_buf, count: cb.pointee.aio_nbytes),
                            at: Int64(cb.pointee.aio_offset))
        case C.LIO_WRITE:
            guard access == O_WRONLY || access == O_RDWR else { return EBADF }
            guard cb.pointee.aio_offset >= 0 || append, cb.pointee.aio_nbytes >= 0 else { return EINVAL }
            // Writes (and syncs) of one descriptor run on one worker: in call order,
            // which O_APPEND needs, and ahead of a later aio_fsync.
            placement = fdWorker
            request = .write(FileDescriptor(rawValue: fd),
                             from: UnsafeRawBufferPointer(start: cb.pointee.aio_buf, count: cb.pointee.aio_nbytes),
                             at: append ? 0 : Int64(cb.pointee.aio_offset))
        default:  // fsync
            placement = fdWorker
            request = fsyncData ? .fdatasync(FileDescriptor(rawValue: fd)) : .fsync(FileDescriptor(rawValue: fd))
        }
        guard let slot = inFlight.claim() else { return EAGAIN }
        inFlight.record(slot: slot, aiocb: cb, fd: fd, group: group)
        cb.pointee.__return_value = 0
        AIOCB.stateWord(cb).pointee.store(AIOState.inProgress.rawValue, ordering: .relaxed)
        AIOCB.error(cb).pointee.store(EINPROGRESS, ordering: .releasing)
        do throws(SubmitError) {
            try engine.submit(request, tag: UInt64(slot), placement: placement)
        } catch {
            inFlight.release(slot)
            AIOCB.stateWord(cb).pointee.store(AIOState.idle.rawValue, ordering: .relaxed)
            let e = error.errno.rawValue == ESHUTDOWN ? EAGAIN : error.errno.rawValue
            cb.pointee.__return_value = -1
            AIOCB.error(cb).pointee.store(e, ordering: .releasing)
            return e
        }
        return 0
    }

    // MARK: completion (worker thread)

    /// The engine's completion handler: finishes the request of slot `completion.tag`.
    func complete(_ completion: IOCompletion) {
        let slot = Int(completion.tag)
        let cb = inFlight.aiocb(at: slot)
        let group = inFlight.group(at: slot)
        // Copy the notification before publishing: the caller may reuse the aiocb at once after.
        let notification = group < 0 ? withUnsafePointer(to: &cb.pointee.aio_sigevent) { Notification($0) } : Notification()
        let result = completion.result
        cb.pointee.__return_value = result >= 0 ? result : -1
        AIOCB.stateWord(cb).pointee.store(AIOState.completed.rawValue, ordering: .relaxed)
        AIOCB.error(cb).pointee.store(result >= 0 ? 0 : Int32(-result), ordering: .releasing)
        inFlight.release(slot)
        completions.advance()
        deliver(notification)
        if group >= 0 { finishGroupMember(Int(group)) }
    }

    /// Raises `n`: a queued signal to the process or a thread, or a
    /// `SIGEV_THREAD` function on the ``threadNotifier``.
    func deliver(_ n: Notification) {
        switch n.notify {
        case C.SIGEV_SIGNAL where n.signo != 0: SignalQueue.send(signo: n.signo, value: n.value, pid: pid, tid: 0)
        case C.SIGEV_THREAD_ID: SignalQueue.send(signo: n.signo, value: n.value, pid: pid, tid: n.tid)
        case C.SIGEV_THREAD: threadNotifier.enqueue(n.function, n.value)
        default: break
        }
    }

    /// Drops one reference to lio_listio group `g`, raising its notification
    /// when it was the last.
    func finishGroupMember(_ g: Int) {
        if let n = listIOGroups.finishMember(g) { deliver(n) }
    }
}

/// Worker start hook: process-directed signals (C.SIGEV_SIGNAL, the host's own)
/// go to the host's threads, never to an I/O worker.
private let blockAllSignals: @convention(c) (UnsafeMutableRawPointer?) -> Void = { _ in
    var set = sigset_t()
    sigfillset(&set)
    pthread_sigmask(SIG_BLOCK, &set, nil)
}
