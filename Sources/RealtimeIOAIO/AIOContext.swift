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
/// - ``slots``: the request slots; a slot index is the engine request's tag,
///   and the slot's ``SlotRequest`` is everything the request needs after
///   submit (the aiocb is not read again).
/// - ``completions``: the generation `aio_suspend` and `lio_listio(LIO_WAIT)`
///   sleep on.
/// - ``listIOGroups``: lio_listio(LIO_NOWAIT) batches with a notification.
/// - ``threadNotifier``: the threads that run `SIGEV_THREAD` functions.
///
/// ## A request's life
/// 1. ``submit(_:opcode:fsyncData:group:)`` (caller's thread) validates the
///    aiocb, claims a slot, copies the request and its notification into it,
///    sets the aiocb in progress (error code `EINPROGRESS`, release) and hands
///    the request to the engine — on the descriptor's worker (see
///    ``DropInSettings/Ordering``). It takes no lock, allocates nothing and
///    makes no syscall beyond the engine's wake-up.
/// 2. The worker runs ``SlotOperation`` (read/write) or the engine's fsync.
///    A request on a stream (pipe, socket, FIFO) is handed on to the stream
///    threads instead — ``chainEngine``, in descriptor order through
///    ``chains`` — so that no preallocated worker ever blocks on a stream.
/// 3. ``complete(_:)`` (worker thread, `.workerHandler` delivery) stores the
///    result and state, publishes the error code (release), advances the
///    generation, then raises the notification: a signal at once (and the slot
///    is freed), or a `SIGEV_THREAD` entry queued with the slot, freed by the
///    notifier once the function returned. A lio_listio member then drops its
///    group's reference (the last raises the group's notification).
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
    let settings: DropInSettings
    let slots: RequestSlots
    let completions: CompletionGeneration
    let listIOGroups: ListIOGroups
    let threadNotifier: ThreadNotifier
    /// Per-descriptor order of the requests run by ``chainEngine``: every
    /// request in on-demand mode, the streams' requests otherwise.
    let chains: DescriptorChains?
    /// Where chained requests run: the engine itself in on-demand mode, else
    /// the stream threads' on-demand engine (nil if it could not start: streams
    /// then block preallocated workers, as before it existed).
    let chainEngine: IOEngine?
    /// Every request is chained (on-demand mode).
    let chainsEverything: Bool
    /// Spread mode only (``DropInSettings/Ordering/spreadReads``).
    let seekable: DescriptorBits?
    private let seekableStorage: CacheAlignedStorage?
    /// Descriptors a worker found to be streams (with stream threads only).
    let streams: DescriptorBits?
    private let streamsStorage: CacheAlignedStorage?
    /// Fault injection for tests only: `RTIO_AIO_TEST_HANDOFF_DELAY_US` makes a
    /// worker sleep that long before it hands a stream request to the stream
    /// threads, so a test can call `aio_cancel` while the request is in transit
    /// (see ``cancel(slot:fd:only:)``). 0 (unset) in any real use.
    let handOffDelayMicroseconds: UInt32
    /// The engine's status file (removed at exit: ``ProcessContext``).
    let statusFilePath: String?
    /// The same path as a C string, for the exit paths (no allocation there).
    let statusFilePathC: UnsafeMutablePointer<CChar>?

    private init(engine: IOEngine, streamEngine: IOEngine?, capacity: Int, settings: DropInSettings) {
        self.engine = engine
        pid = getpid()
        self.capacity = capacity
        self.settings = settings
        workerCount = engine.workerCount
        slots = RequestSlots(capacity: capacity)
        completions = CompletionGeneration()
        listIOGroups = ListIOGroups()
        // One entry per slot and group: see ThreadNotifier "Never lost".
        threadNotifier = ThreadNotifier(capacity: capacity + ListIOGroups.count)
        chainsEverything = engine.workerCount == 0
        chainEngine = chainsEverything ? engine : streamEngine
        chains = chainEngine != nil ? DescriptorChains(slots: capacity) : nil
        (streamsStorage, streams) = DescriptorBits.makeStorage(if: streamEngine != nil)
        (seekableStorage, seekable) = DescriptorBits.makeStorage(if: settings.ordering == .spreadReads && engine.workerCount > 0)
        statusFilePath = engine.statusFilePath
        statusFilePathC = statusFilePath.map { strdup($0) }
        handOffDelayMicroseconds = getenv("RTIO_AIO_TEST_HANDOFF_DELAY_US").flatMap { UInt32(String(cString: $0)) } ?? 0
    }

    // MARK: start

    /// Why a context could not start: printed once by ``ProcessContext``.
    struct StartFailure: Error { var message: String }

    /// The completion handler needs the context, which needs the engine: a box
    /// filled after the engine's init, before any request can complete.
    final class ContextBox: @unchecked Sendable { var context: AIOContext? }

    /// Starts an engine and its context for this process (under ``ProcessContext``'s lock).
    static func start() -> Result<AIOContext, StartFailure> {
        guard AIOCB.layoutMatches else {
            return .failure(StartFailure(message: "struct aiocb layout differs from the one this library was built for"))
        }
        var configuration: EngineConfiguration
        let settings: DropInSettings
        switch AIOConfiguration.load() {
        case .success(let loaded): (configuration, settings) = loaded
        case .failure(let f): return .failure(f)
        }
        let box = ContextBox()
        configuration.completionDelivery = .workerHandler { completion in box.context.unsafelyUnwrapped.complete(completion) }  // into the aiocb
        let engine: IOEngine
        do {
            engine = try IOEngine(
                configuration: configuration,
                workerStartHook: WorkerStartHook(blockAllSignals))
        } catch {
            return .failure(StartFailure(message: "cannot start the engine: \(error)"))
        }
        let streamEngine = engine.workerCount == 0 ? nil : startStreamEngine(for: configuration, box: box)
        let context = AIOContext(engine: engine, streamEngine: streamEngine, capacity: configuration.requestsInFlight, settings: settings)
        box.context = context
        var notifiers = 0
        do {
            notifiers = try context.threadNotifier.start(
                count: settings.notifierThreads, cpus: engine.processCPUs.unpinned.cpus,
                run: { entry in box.context.unsafelyUnwrapped.runThreadEntry(entry) })
        } catch {
            // Still usable without SIGEV_THREAD: submits asking for it fail with EAGAIN.
            writeDiagnostic("rtio-aio: cannot start the SIGEV_THREAD notifier threads: \(error); SIGEV_THREAD requests fail with EAGAIN")
        }
        if let verbose = getenv("RTIO_AIO_VERBOSE"), verbose.pointee != 0, verbose.pointee != 0x30 /* "0" */ {
            writeDiagnostic("rtio-aio: engine started in pid \(getpid()): mode \(engine.mode.rawValue), \(engine.workerCount) workers, "
                            + "\(configuration.requestsInFlight) request slots, ordering \(settings.ordering.rawValue), "
                            + "\(notifiers) notifier threads")
            for degradation in engine.degradations { writeDiagnostic("rtio-aio: \(degradation)") }
        }
        return .success(context)
    }

    // MARK: submit (caller's thread)

    /// The opcode ``submit(_:opcode:fsyncData:group:)`` takes for aio_fsync.
    static let fsyncOpcode: Int32 = -1
    /// A ``SlotRequest`` opcode: aio_fsync(O_DSYNC).
    static let fdatasyncOpcode: Int32 = -2

    /// Queues one aiocb; returns 0 or an errno value (nothing queued).
    ///
    /// `opcode` is `LIO_READ`, `LIO_WRITE` or ``fsyncOpcode``. `group` ≥ 0
    /// makes the request a member of that ``ListIOGroups`` group. Descriptor
    /// errors of reads and writes (closed, wrong direction) are not detected
    /// here: they complete the request with `EBADF`, as with glibc.
    func submit(_ cb: UnsafeMutablePointer<aiocb>, opcode: Int32, fsyncData: Bool = false, group: Int32 = -1) -> Int32 {
        let fd = cb.pointee.aio_fildes
        if opcode != Self.fsyncOpcode {
            // aio_fsync uses only aio_fildes and aio_sigevent (POSIX).
            if cb.pointee.aio_reqprio < 0 || cb.pointee.aio_reqprio > 20 /* AIO_PRIO_DELTA_MAX */ { return EINVAL }
            guard cb.pointee.aio_offset >= 0, cb.pointee.aio_nbytes >= 0 else { return EINVAL }  // size_t imports as Int: > SSIZE_MAX is negative
        }
        let notification = withUnsafePointer(to: &cb.pointee.aio_sigevent) { Notification($0) }
        guard notification.isValid else { return EINVAL }
        if notification.notify == C.SIGEV_THREAD && !threadNotifier.isRunning { return EAGAIN }
        guard let slot = slots.claim() else { return EAGAIN }
        let r = slots.request(slot)
        r.pointee.aiocb = cb
        r.pointee.fd = fd
        r.pointee.opcode = opcode == Self.fsyncOpcode && fsyncData ? Self.fdatasyncOpcode : opcode
        r.pointee.group = group
        r.pointee.notification = notification
        r.pointee.buffer = UnsafeMutableRawPointer(mutating: cb.pointee.aio_buf)
        r.pointee.count = cb.pointee.aio_nbytes
        r.pointee.offset = Int64(cb.pointee.aio_offset)
        r.pointee.seekable = seekable
        r.pointee.streams = streams
        // A negative descriptor is never chained: it has no order to keep (its
        // request fails with EBADF), and the chain table keys only real numbers.
        let chain = chainsEverything && fd >= 0
        r.pointee.chained = chain
        cb.pointee.__return_value = 0
        AIOCB.stateWord(cb).pointee.store(AIOState.inProgress.rawValue, ordering: .relaxed)
        AIOCB.error(cb).pointee.store(EINPROGRESS, ordering: .releasing)
        slots.activate(slot, fd: fd)
        if chain, let chains, !chains.append(slot, fd: fd) { return 0 }  // queued behind its descriptor's running request
        let e = handToEngine(slot)
        guard e != 0 else { return 0 }
        if chain, let chains, let n = chains.finish(slot, fd: fd) { submitChained(n) }
        slots.release(slot)
        AIOCB.stateWord(cb).pointee.store(AIOState.idle.rawValue, ordering: .relaxed)
        cb.pointee.__return_value = -1
        AIOCB.error(cb).pointee.store(e, ordering: .releasing)
        return e
    }

    /// Submits the recorded request of `slot` to its engine (``chainEngine``
    /// if it is chained); 0 or an errno value.
    ///
    /// Only the main engine's handles are recorded for aio_cancel: a stream's
    /// request handed to a stream thread keeps the stale handle of its first
    /// engine request, which ``IOEngine/cancel(_:)`` answers `alreadyDone`
    /// (aio_cancel: `AIO_NOTCANCELED` while it runs).
    @inline(__always)
    private func handToEngine(_ slot: Int) -> Int32 {
        let r = slots.request(slot)
        let fd = FileDescriptor(rawValue: r.pointee.fd)
        let onChain = r.pointee.chained
        let target = onChain ? chainEngine.unsafelyUnwrapped : engine
        let request: IORequest
        switch r.pointee.opcode {
        case Self.fsyncOpcode: request = .fsync(fd)
        case Self.fdatasyncOpcode: request = .fdatasync(fd)
        default:
            // Preallocated workers hand streams on (when there are stream threads).
            let call = onChain || streams == nil ? SlotOperation.run : SlotOperation.forwardingStreams
            request = .custom(call, context: UnsafeMutableRawPointer(r))
        }
        do throws(SubmitError) {
            let handle = try target.submit(
                request, tag: UInt64(slot), placement: onChain ? .leastLoaded : placement(fd: r.pointee.fd, read: r.pointee.opcode == C.LIO_READ))
            if target === engine { slots.setHandle(slot, handle.rawValue) }
            return 0
        } catch {
            switch error {
            case .full, .shutDown: return EAGAIN  // resource exhaustion
            default: return error.errno.rawValue
            }
        }
    }

    /// Submits the next request of a descriptor chain to ``chainEngine`` (a
    /// completer's or a refused submitter's thread); one the engine refuses
    /// completes with that error and hands over to its own next.
    func submitChained(_ first: Int) {
        var slot = first
        while true {
            let e = handToEngine(slot)
            if e == 0 { return }
            guard let n = finish(slot: slot, result: -Int(e)) else { return }
            slot = n
        }
    }

    /// The worker of a request on `fd` (see ``DropInSettings/Ordering``).
    ///
    /// Cost: an integer remainder; in spread mode one relaxed load of the
    /// descriptor's seekable bit (``DescriptorBits``) per read. With no
    /// preallocated worker (on-demand mode) every request goes to the
    /// on-demand pool, ordered by ``chains``.
    @inline(__always)
    func placement(fd: Int32, read: Bool) -> Placement {
        guard workerCount > 0 else { return .leastLoaded }
        if read, let seekable, seekable.contains(fd) { return .leastLoaded }
        return .worker(Int(UInt32(bitPattern: fd) % UInt32(workerCount)))
    }

    // MARK: completion (worker thread)

    /// The engine's completion handler: finishes the request of slot `completion.tag`.
    @inline(__always)
    func complete(_ completion: IOCompletion) {
        if completion.result == SlotOperation.forwarded {
            if handOffDelayMicroseconds > 0 { usleep(handOffDelayMicroseconds) }
            handToStreamThreads(Int(completion.tag))
            return
        }
        if let n = finish(slot: Int(completion.tag), result: completion.result) { submitChained(n) }
    }

    /// Publishes `result` (bytes or -errno) into the slot's aiocb and raises its
    /// notification; returns the next request of its descriptor chain to submit
    /// (on-demand mode), if any.
    /// `chained` false: a request removed from its chain before it reached the
    /// engine (it hands over nothing).
    @discardableResult
    func finish(slot: Int, result: Int, chained: Bool = true) -> Int? {
        let r = slots.request(slot)
        let cb = r.pointee.aiocb.unsafelyUnwrapped
        let group = r.pointee.group
        let notification = r.pointee.notification
        let next = chained && r.pointee.chained ? chains?.finish(slot, fd: r.pointee.fd) : nil
        cb.pointee.__return_value = result >= 0 ? result : -1
        AIOCB.stateWord(cb).pointee.store(AIOState.completed.rawValue, ordering: .relaxed)
        slots.deactivate(slot)
        AIOCB.error(cb).pointee.store(result >= 0 ? 0 : Int32(-result), ordering: .releasing)
        // The aiocb is the caller's again: nothing below reads it.
        // A signal is queued before aio_suspend/LIO_WAIT waiters are woken, as
        // glibc does (it notifies, then wakes, under its request lock): a
        // program woken by aio_suspend finds its handler has run. (A waiter
        // that re-checks between the store above and the signal — woken by
        // another request — can still return first; POSIX orders neither.)
        if notification.notify == C.SIGEV_THREAD {
            completions.advance()
            threadNotifier.enqueue(Int32(slot))  // the slot is freed after the function ran
        } else {
            slots.release(slot)
            deliverSignal(notification)
            completions.advance()
        }
        if group >= 0 { finishGroupMember(Int(group)) }
        return next
    }

    // MARK: cancel (caller's thread)

    /// Tries to cancel the request of `slot`, found in flight on `fd` (and, with
    /// `only`, for that aiocb): `AIO_CANCELED` if it had not started — it then
    /// completes with `ECANCELED` and its notification, on this thread, before
    /// this returns —, `AIO_NOTCANCELED` if it runs (or its handle is not known
    /// yet), `AIO_ALLDONE` if it finished meanwhile, nil if the slot no longer
    /// holds such a request (finished and reused: not this call's business).
    ///
    /// The slot is not ours: it is read only where ordered — a chained request
    /// is removed under the chain lock, keyed by the caller's `fd`, its aiocb
    /// compared there; an engine request through a handle loaded (acquire)
    /// *before* the slot is found still active on `fd`, so the handle is of a
    /// request on `fd` (the engine's generation check does the rest).
    func cancel(slot: Int, fd: Int32, only: UnsafePointer<aiocb>?) -> Int32? {
        let r = slots.request(slot)
        if let chains, chains.remove(slot, fd: fd, if: { only == nil || UnsafePointer(r.pointee.aiocb) == only }) {
            finish(slot: slot, result: -Int(ECANCELED), chained: false)
            return C.AIO_CANCELED
        }
        let raw = slots.handle(slot)
        guard slots.isActive(slot, fd: fd) else { return nil }
        if let only, UnsafePointer(r.pointee.aiocb) != only { return nil }
        switch RequestHandle(rawValue: raw).map({ engine.cancel($0) }) ?? .running {
        case .cancelled:
            return C.AIO_CANCELED  // finish(slot:) ran through the completion handler
        case .running, .alreadyDone:
            if let chains, streams?.contains(fd) == true {
                // A stream request in transit: its worker dequeued it (the engine says
                // running) and is handing it to the stream threads without running it.
                // glibc would find it queued, so wait (bounded, sleeping) until it joins
                // its chain — and withdraw it there — or heads it (then it runs).
                var tries = 0
                while tries < 40_000 && slots.isActive(slot, fd: fd) && !chains.heads(slot, fd: fd) {
                    if chains.remove(slot, fd: fd, if: { only == nil || UnsafePointer(r.pointee.aiocb) == only }) {
                        finish(slot: slot, result: -Int(ECANCELED), chained: false)
                        return C.AIO_CANCELED
                    }
                    usleep(50)
                    tries += 1
                }
            }
            // `.alreadyDone` also for a stale handle (a stream request handed on) while still in flight.
            return slots.isActive(slot, fd: fd) && slots.handle(slot) == raw ? C.AIO_NOTCANCELED : C.AIO_ALLDONE
        }
    }

    /// Cancels every request of `fd` in flight, or only the one of `only`:
    /// `AIO_NOTCANCELED` if any could not be cancelled, else `AIO_CANCELED` if
    /// any was, else `AIO_ALLDONE`.
    func cancel(fd: Int32, only: UnsafePointer<aiocb>?) -> Int32 {
        var cancelled = false, notCancelled = false
        slots.forEachInFlight(fd: fd) { slot in
            switch cancel(slot: slot, fd: fd, only: only) {
            case C.AIO_CANCELED: cancelled = true
            case C.AIO_NOTCANCELED: notCancelled = true
            default: break
            }
        }
        if notCancelled { return C.AIO_NOTCANCELED }
        if cancelled { return C.AIO_CANCELED }
        if let only, AIOCB.error(only).pointee.load(ordering: .acquiring) == EINPROGRESS {
            return C.AIO_NOTCANCELED  // being submitted right now: not in flight yet
        }
        return C.AIO_ALLDONE
    }

    /// Raises a signal notification (`SIGEV_SIGNAL`, `SIGEV_THREAD_ID`); nothing for the others.
    func deliverSignal(_ n: Notification) {
        switch n.notify {
        case C.SIGEV_SIGNAL where n.signo != 0: SignalQueue.send(signo: n.signo, value: n.value, pid: pid, tid: 0)
        case C.SIGEV_THREAD_ID: SignalQueue.send(signo: n.signo, value: n.value, pid: pid, tid: n.tid)
        default: break
        }
    }

    /// A ``ThreadNotifier`` thread: runs the function of a slot or group entry, then frees it.
    func runThreadEntry(_ entry: Int32) {
        let index = Int(entry)
        if index < capacity {
            let n = slots.request(index).pointee.notification
            n.function?(n.value)
            slots.release(index)
        } else {
            let g = index - capacity
            let n = listIOGroups.notification(g)
            n.function?(n.value)
            listIOGroups.free(g)
        }
    }

    /// Drops one reference to lio_listio group `g`, raising its notification
    /// when it was the last.
    func finishGroupMember(_ g: Int) {
        guard listIOGroups.finishMember(g) else { return }
        let n = listIOGroups.notification(g)
        if n.notify == C.SIGEV_THREAD {
            threadNotifier.enqueue(Int32(capacity + g))  // freed after the function ran
        } else {
            deliverSignal(n)
            listIOGroups.free(g)
        }
    }
}

/// Worker start hook: process-directed signals (SIGEV_SIGNAL, the host's own)
/// go to the host's threads, never to an I/O worker.
let blockAllSignals: @convention(c) (UnsafeMutableRawPointer?) -> Void = { _ in
    var set = sigset_t()
    sigfillset(&set)
    pthread_sigmask(SIG_BLOCK, &set, nil)
}
