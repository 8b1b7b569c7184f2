// POSIX AIO drop-in (LD_PRELOAD librtio-aio.so): the per-process engine and the
// bookkeeping behind aio_read & co. (AIOFunctions.swift exports the C symbols).
//
// - One IOEngine per process, started lazily on the first aio_* call, from the
//   JSON file named by RTIO_AIO_CONFIG or a safe unprivileged default.
//   After fork(2) the child starts its own engine on first use (pthread_atfork).
// - Completions run a handler on the worker thread ("workerHandler" delivery):
//   it stores the result in the aiocb (__return_value, then __error_code with
//   release ordering), bumps a futex generation word that aio_suspend and
//   lio_listio(C.LIO_WAIT) sleep on, and raises the aiocb's notification.
// - In-flight requests are tracked in a preallocated table (a bitmap of slots
//   with the aiocb and fd of each) so aio_cancel(fd, NULL) can answer, and so
//   more than requestsInFlight outstanding requests fail with EAGAIN.
import CRealtimeIOShims
import FoundationEssentials
import RealtimeIO
import RealtimeIOLinux
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// glibc's AIO constants as Int32 (Swift imports the anonymous enums as Int).
enum C {
    static let SIGEV_SIGNAL: Int32 = 0, SIGEV_NONE: Int32 = 1, SIGEV_THREAD: Int32 = 2, SIGEV_THREAD_ID: Int32 = 4
    static let LIO_READ: Int32 = 0, LIO_WRITE: Int32 = 1, LIO_NOP: Int32 = 2
    static let LIO_WAIT: Int32 = 0, LIO_NOWAIT: Int32 = 1
    static let AIO_CANCELED: Int32 = 0, AIO_NOTCANCELED: Int32 = 1, AIO_ALLDONE: Int32 = 2
}

/// Private per-request state kept in the aiocb's `__policy` field (unused by
/// callers; glibc's own implementation is not loaded for these calls).
enum AIOState: Int32 {
    case idle = 0
    case inProgress = 0x5254_0001
    case completed = 0x5254_0002
    case returned = 0x5254_0003
}

/// Field offsets of glibc's struct aiocb (== struct aiocb64 on LP64).
enum AIOCB {
    static let errorCode = MemoryLayout<aiocb>.offset(of: \aiocb.__error_code)!
    static let returnValue = MemoryLayout<aiocb>.offset(of: \aiocb.__return_value)!
    static let state = MemoryLayout<aiocb>.offset(of: \aiocb.__policy)!

    @inline(__always)
    static func error(_ cb: UnsafePointer<aiocb>) -> UnsafeMutablePointer<Atomic<Int32>> {
        UnsafeMutableRawPointer(mutating: cb).advanced(by: errorCode).assumingMemoryBound(to: Atomic<Int32>.self)
    }
    @inline(__always)
    static func stateWord(_ cb: UnsafePointer<aiocb>) -> UnsafeMutablePointer<Atomic<Int32>> {
        UnsafeMutableRawPointer(mutating: cb).advanced(by: state).assumingMemoryBound(to: Atomic<Int32>.self)
    }
}

/// A notification to raise after a request (or a lio_listio batch) finished.
struct Notification {
    var notify: Int32 = C.SIGEV_NONE
    var signo: Int32 = 0
    var value = sigval()
    var function: (@convention(c) (sigval) -> Void)? = nil
    var tid: Int32 = 0

    init() {}

    init(_ e: UnsafePointer<sigevent>) {
        notify = e.pointee.sigev_notify
        signo = e.pointee.sigev_signo
        value = e.pointee.sigev_value
        if notify == C.SIGEV_THREAD { function = e.pointee._sigev_un._sigev_thread._function }
        if notify == C.SIGEV_THREAD_ID { tid = e.pointee._sigev_un._tid }
    }

    /// EINVAL for what this implementation cannot deliver.
    var isValid: Bool {
        switch notify {
        case C.SIGEV_NONE: return true
        // A zeroed aiocb asks for SIGEV_SIGNAL with signal 0: no signal (as with glibc).
        case C.SIGEV_SIGNAL: return signo >= 0 && signo < 65
        case C.SIGEV_THREAD: return function != nil
        case C.SIGEV_THREAD_ID: return signo > 0 && signo < 65 && tid > 0
        default: return false
        }
    }
}

/// rt_sigqueueinfo / rt_tgsigqueueinfo through libc's syscall(2), looked up once.
/// (Swift cannot call the variadic syscall(); its x86-64 and arm64 assembly
/// entry takes the fixed-argument call below unchanged.)
enum SignalQueue {
    typealias Syscall4 = @convention(c) (Int, Int, Int, Int, Int) -> Int
    #if arch(x86_64)
    static let rtSigqueueinfo = 129, rtTgsigqueueinfo = 297
    #elseif arch(arm64)
    static let rtSigqueueinfo = 138, rtTgsigqueueinfo = 240
    #endif
    static let call: Syscall4? = {
        guard let p = dlsym(nil /* RTLD_DEFAULT */, "syscall") else { return nil }
        return unsafeBitCast(p, to: Syscall4.self)
    }()

    /// Sends `signo` with `value` and si_code SI_ASYNCIO (as glibc's AIO does) to
    /// the process (tid 0) or one of its threads.
    static func send(signo: Int32, value: sigval, pid: pid_t, tid: pid_t) {
        // siginfo_t: si_signo @0, si_errno @4, si_code @8, _rt: si_pid @16, si_uid @20, si_value @24; 128 bytes.
        var info = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                    UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &info) { raw in
            raw.storeBytes(of: signo, toByteOffset: 0, as: Int32.self)
            raw.storeBytes(of: -4 /* SI_ASYNCIO */, toByteOffset: 8, as: Int32.self)
            raw.storeBytes(of: pid, toByteOffset: 16, as: Int32.self)
            raw.storeBytes(of: getuid(), toByteOffset: 20, as: UInt32.self)
            raw.storeBytes(of: value, toByteOffset: 24, as: sigval.self)
        }
        withUnsafeBytes(of: &info) { raw in
            if let call {
                let info = Int(bitPattern: raw.baseAddress!)
                if tid > 0 {
                    _ = call(rtTgsigqueueinfo, Int(pid), Int(tid), Int(signo), info)
                } else {
                    _ = call(rtSigqueueinfo, Int(pid), Int(signo), info, 0)
                }
            } else {
                _ = sigqueue(pid, signo, value)
            }
        }
    }
}

/// The per-process AIO state around one engine.
final class AIOContext: @unchecked Sendable {
    let engine: IOEngine
    let pid: pid_t
    let capacity: Int
    let workerCount: Int
    /// One bit per in-flight table slot; a set bit is a request not yet completed.
    private let bitmap: UnsafeMutablePointer<Atomic<UInt64>>
    private let words: Int
    private let hint: UnsafeMutablePointer<Atomic<Int>>
    /// The aiocb (address) and fd of each in-flight slot, and its lio_listio group (-1: none).
    private let slotCB: UnsafeMutablePointer<Atomic<UInt>>
    private let slotFD: UnsafeMutablePointer<Atomic<Int32>>
    private let slotGroup: UnsafeMutablePointer<Atomic<Int32>>
    /// Futex word bumped after every completion; aio_suspend sleeps on it.
    let generation: UnsafeMutablePointer<UInt32>
    private let waiters: UnsafeMutablePointer<Atomic<Int>>

    // lio_listio(C.LIO_NOWAIT) groups with a notification.
    static let groupCount = 256
    private let groupBusy: UnsafeMutablePointer<Atomic<Bool>>
    private let groupRemaining: UnsafeMutablePointer<Atomic<Int>>
    private let groupNotification: UnsafeMutablePointer<Notification>

    // C.SIGEV_THREAD: a preallocated notifier thread runs the functions in order.
    private let notifyQueue: UnsafeMutablePointer<(function: (@convention(c) (sigval) -> Void)?, value: sigval)>
    private let notifyCapacity: Int
    private let notifyLock = Mutex<(head: Int, tail: Int)>((0, 0))
    private let notifyWord: UnsafeMutablePointer<UInt32>
    private var notifier: NativeThread?

    private init(engine: IOEngine, capacity: Int) {
        self.engine = engine
        pid = getpid()
        self.capacity = capacity
        workerCount = engine.workerCount
        words = (capacity + 63) / 64
        bitmap = .allocate(capacity: words)
        for i in 0..<words {
            // Bits past `capacity` are permanently taken.
            let valid = min(64, capacity - i * 64)
            (bitmap + i).initialize(to: Atomic(valid == 64 ? 0 : ~UInt64(0) << UInt64(valid)))
        }
        hint = .allocate(capacity: 1)
        hint.initialize(to: Atomic(0))
        slotCB = .allocate(capacity: capacity)
        slotFD = .allocate(capacity: capacity)
        slotGroup = .allocate(capacity: capacity)
        for i in 0..<capacity {
            (slotCB + i).initialize(to: Atomic(0))
            (slotFD + i).initialize(to: Atomic(-1))
            (slotGroup + i).initialize(to: Atomic(-1))
        }
        generation = .allocate(capacity: 1)
        generation.initialize(to: 0)
        waiters = .allocate(capacity: 1)
        waiters.initialize(to: Atomic(0))
        groupBusy = .allocate(capacity: Self.groupCount)
        groupRemaining = .allocate(capacity: Self.groupCount)
        groupNotification = .allocate(capacity: Self.groupCount)
        for i in 0..<Self.groupCount {
            (groupBusy + i).initialize(to: Atomic(false))
            (groupRemaining + i).initialize(to: Atomic(0))
            (groupNotification + i).initialize(to: Notification())
        }
        notifyCapacity = capacity + Self.groupCount + 1
        notifyQueue = .allocate(capacity: notifyCapacity)
        notifyQueue.initialize(repeating: (nil, sigval()), count: notifyCapacity)
        notifyWord = .allocate(capacity: 1)
        notifyWord.initialize(to: 0)
    }

    // MARK: start

    /// The default engine: unprivileged, no memory locking, no malloc tuning.
    static var defaultConfiguration: EngineConfiguration {
        let cpus = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        return EngineConfiguration(
            groups: [.init(name: "aio", workers: min(4, max(2, cpus)), scheduling: .other(nice: 0), stackSize: 256 * 1024,
                           stackPrefaultBytes: 32 * 1024)],
            ringCapacity: 1024, requestsInFlight: 1024, memoryLocking: .none, privilegePolicy: .bestEffort,
            spinBudgetNanoseconds: 50_000, completionDelivery: .workerHandler, tuneMalloc: false)
    }

    /// Reads RTIO_AIO_CONFIG (a JSON file path) or returns the default.
    static func configuration() -> Result<EngineConfiguration, StartFailure> {
        guard let pathC = getenv("RTIO_AIO_CONFIG"), pathC.pointee != 0 else { return .success(defaultConfiguration) }
        let path = String(cString: pathC)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(StartFailure(message: "RTIO_AIO_CONFIG=\(path): cannot open: \(Errno(rawValue: errno))")) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[0..<n]
        }
        do {
            var c = try JSONDecoder().decode(EngineConfiguration.self, from: Data(bytes))
            c.completionDelivery = .workerHandler  // the drop-in delivers into the aiocb
            return .success(c)
        } catch {
            return .failure(StartFailure(message: "RTIO_AIO_CONFIG=\(path): invalid configuration JSON: \(error)"))
        }
    }

    struct StartFailure: Error { var message: String }

    /// Starts the context for this process.
    static func start() -> Result<AIOContext, StartFailure> {
        let configuration: EngineConfiguration
        switch Self.configuration() {
        case .success(let c): configuration = c
        case .failure(let f): return .failure(f)
        }
        // The handler needs the context, which needs the engine: a box filled after init.
        let box = ContextBox()
        let engine: IOEngine
        do {
            engine = try IOEngine(
                configuration: configuration,
                completionHandler: { completion in box.context!.complete(completion) },
                workerStartHook: WorkerStartHook(blockAllSignals))
        } catch {
            return .failure(StartFailure(message: "cannot start the engine: \(error)"))
        }
        let context = AIOContext(engine: engine, capacity: configuration.requestsInFlight)
        box.context = context
        do {
            context.notifier = try NativeThread.spawn(attributes: ThreadAttributes(stackSize: 256 * 1024, name: "rtio-aio-notify")) {
                context.runNotifier()
            }
        } catch {
            // Still usable without C.SIGEV_THREAD: submits asking for it fail with EAGAIN.
            writeDiagnostic("rtio-aio: cannot start the C.SIGEV_THREAD notifier thread: \(error)")
        }
        if let verbose = getenv("RTIO_AIO_VERBOSE"), verbose.pointee != 0, verbose.pointee != 0x30 /* "0" */ {
            writeDiagnostic("rtio-aio: engine started in pid \(getpid()): \(engine.workerCount) workers, \(configuration.requestsInFlight) request slots")
            for line in engine.degradations { writeDiagnostic("rtio-aio: \(line)") }
        }
        return .success(context)
    }

    final class ContextBox: @unchecked Sendable { var context: AIOContext? }

    var hasNotifier: Bool { notifier != nil }

    // MARK: table

    /// Claims a free in-flight slot, or nil (EAGAIN).
    @inline(__always)
    func claimSlot() -> Int? {
        let start = hint.pointee.load(ordering: .relaxed)
        var w = 0
        while w < words {
            let word = (start + w) % words
            var bits = bitmap[word].load(ordering: .relaxed)
            while bits != ~UInt64(0) {
                let bit = (~bits).trailingZeroBitCount
                let (exchanged, original) = bitmap[word].compareExchange(
                    expected: bits, desired: bits | (1 << UInt64(bit)), ordering: .acquiring)
                if exchanged {
                    if bits | (1 << UInt64(bit)) == ~UInt64(0) { hint.pointee.store((word + 1) % words, ordering: .relaxed) }
                    return word * 64 + bit
                }
                bits = original
            }
            w += 1
        }
        return nil
    }

    @inline(__always)
    func releaseSlot(_ slot: Int) {
        slotCB[slot].store(0, ordering: .relaxed)
        slotFD[slot].store(-1, ordering: .relaxed)
        bitmap[slot / 64].bitwiseAnd(~(UInt64(1) << UInt64(slot % 64)), ordering: .releasing)
    }

    /// True if a request on `fd` is in flight.
    func hasInFlight(fd: Int32) -> Bool {
        for word in 0..<words {
            var bits = bitmap[word].load(ordering: .acquiring)
            while bits != 0 {
                let bit = bits.trailingZeroBitCount
                bits &= bits - 1
                let slot = word * 64 + bit
                if slot < capacity && slotFD[slot].load(ordering: .relaxed) == fd && slotCB[slot].load(ordering: .relaxed) != 0 {
                    return true
                }
            }
        }
        return false
    }

    // MARK: submit

    /// Queues one aiocb; returns 0 or an errno value (nothing queued).
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
            if n.notify == C.SIGEV_THREAD && notifier == nil { return EAGAIN }
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
        guard let slot = claimSlot() else { return EAGAIN }
        slotCB[slot].store(UInt(bitPattern: cb), ordering: .relaxed)
        slotFD[slot].store(fd, ordering: .relaxed)
        slotGroup[slot].store(group, ordering: .relaxed)
        cb.pointee.__return_value = 0
        AIOCB.stateWord(cb).pointee.store(AIOState.inProgress.rawValue, ordering: .relaxed)
        AIOCB.error(cb).pointee.store(EINPROGRESS, ordering: .releasing)
        do throws(SubmitError) {
            try engine.submit(request, tag: UInt64(slot), placement: placement)
        } catch {
            releaseSlot(slot)
            AIOCB.stateWord(cb).pointee.store(AIOState.idle.rawValue, ordering: .relaxed)
            let e = error.errno.rawValue == ESHUTDOWN ? EAGAIN : error.errno.rawValue
            cb.pointee.__return_value = -1
            AIOCB.error(cb).pointee.store(e, ordering: .releasing)
            return e
        }
        return 0
    }

    // MARK: completion (worker thread)

    func complete(_ completion: IOCompletion) {
        let slot = Int(completion.tag)
        let cb = UnsafeMutablePointer<aiocb>(bitPattern: slotCB[slot].load(ordering: .relaxed))!
        let group = slotGroup[slot].load(ordering: .relaxed)
        // Copy the notification before publishing: the caller may reuse the aiocb at once after.
        let notification = group < 0 ? withUnsafePointer(to: &cb.pointee.aio_sigevent) { Notification($0) } : Notification()
        let result = completion.result
        cb.pointee.__return_value = result >= 0 ? result : -1
        AIOCB.stateWord(cb).pointee.store(AIOState.completed.rawValue, ordering: .relaxed)
        AIOCB.error(cb).pointee.store(result >= 0 ? 0 : Int32(-result), ordering: .releasing)
        releaseSlot(slot)
        wakeWaiters()
        deliver(notification)
        if group >= 0 { finishGroupMember(Int(group)) }
    }

    @inline(__always)
    func wakeWaiters() {
        UnsafeMutableRawPointer(generation).assumingMemoryBound(to: Atomic<UInt32>.self).pointee
            .add(1, ordering: .sequentiallyConsistent)
        if waiters.pointee.load(ordering: .sequentiallyConsistent) > 0 {
            _ = rtio_futex_wake(generation, Int32.max)
        }
    }

    func deliver(_ n: Notification) {
        switch n.notify {
        case C.SIGEV_SIGNAL where n.signo != 0: SignalQueue.send(signo: n.signo, value: n.value, pid: pid, tid: 0)
        case C.SIGEV_THREAD_ID: SignalQueue.send(signo: n.signo, value: n.value, pid: pid, tid: n.tid)
        case C.SIGEV_THREAD: enqueueNotification(n.function, n.value)
        default: break
        }
    }

    // MARK: waiting

    var currentGeneration: UInt32 {
        UnsafeMutableRawPointer(generation).assumingMemoryBound(to: Atomic<UInt32>.self).pointee.load(ordering: .sequentiallyConsistent)
    }

    /// Sleeps until the generation moves past `seen` or `deadline` (monotonic ns; 0 = forever).
    /// Returns 0, ETIMEDOUT (EAGAIN for POSIX) or EINTR.
    func wait(seen: UInt32, deadline: UInt64) -> Int32 {
        var timeout: Int64 = -1
        if deadline != 0 {
            let now = rtio_monotonic_ns()
            if now >= deadline { return EAGAIN }
            timeout = Int64(deadline - now)
        }
        waiters.pointee.add(1, ordering: .sequentiallyConsistent)
        let rc = rtio_futex_wait(generation, seen, timeout)
        waiters.pointee.subtract(1, ordering: .sequentiallyConsistent)
        if rc == -EINTR { return EINTR }
        if rc == -ETIMEDOUT { return EAGAIN }
        return 0
    }

    // MARK: lio_listio groups

    func claimGroup(_ notification: Notification, members: Int) -> Int? {
        for g in 0..<Self.groupCount {
            if groupBusy[g].compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
                groupNotification[g] = notification
                groupRemaining[g].store(members + 1, ordering: .releasing)  // +1 held by the submitter
                return g
            }
        }
        return nil
    }

    func finishGroupMember(_ g: Int) {
        if groupRemaining[g].subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
            let n = groupNotification[g]
            groupBusy[g].store(false, ordering: .releasing)
            deliver(n)
        }
    }

    // MARK: C.SIGEV_THREAD notifier

    private func enqueueNotification(_ function: (@convention(c) (sigval) -> Void)?, _ value: sigval) {
        let queued = notifyLock.withLock { q -> Bool in
            guard q.tail - q.head < notifyCapacity else { return false }
            notifyQueue[q.tail % notifyCapacity] = (function, value)
            q.tail += 1
            return true
        }
        guard queued else { return }  // cannot happen: one entry per in-flight slot and group
        UnsafeMutableRawPointer(notifyWord).assumingMemoryBound(to: Atomic<UInt32>.self).pointee.add(1, ordering: .sequentiallyConsistent)
        _ = rtio_futex_wake(notifyWord, 1)
    }

    private func runNotifier() {
        var set = sigset_t()
        sigfillset(&set)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let word = UnsafeMutableRawPointer(notifyWord).assumingMemoryBound(to: Atomic<UInt32>.self)
        while true {
            let seen = word.pointee.load(ordering: .sequentiallyConsistent)
            while let item = notifyLock.withLock({ q -> (function: (@convention(c) (sigval) -> Void)?, value: sigval)? in
                guard q.head < q.tail else { return nil }
                let item = notifyQueue[q.head % notifyCapacity]
                q.head += 1
                return item
            }) {
                item.function?(item.value)
            }
            _ = rtio_futex_wait(notifyWord, seen, -1)
        }
    }
}

/// Worker start hook: process-directed signals (C.SIGEV_SIGNAL, the host's own)
/// go to the host's threads, never to an I/O worker.
private let blockAllSignals: @convention(c) (UnsafeMutableRawPointer?) -> Void = { _ in
    var set = sigset_t()
    sigfillset(&set)
    pthread_sigmask(SIG_BLOCK, &set, nil)
}

func writeDiagnostic(_ text: String) {
    let line = text + "\n"
    _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
}

// MARK: the process's context

/// The live context's address (0: none yet in this process).
let currentContext = Atomic<UInt>(0)
/// Serialises start; held across fork by the atfork handlers.
nonisolated(unsafe) let startMutex: UnsafeMutablePointer<pthread_mutex_t> = {
    let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    pthread_mutex_init(m, nil)
    return m
}()
nonisolated(unsafe) var atforkRegistered = false
nonisolated(unsafe) var reportedStartFailure = false

/// The context of this process, started on first use; nil (errno EAGAIN) if it cannot start.
@inline(__always)
func aioContext() -> AIOContext? {
    let address = currentContext.load(ordering: .acquiring)
    if address != 0 {
        return Unmanaged<AIOContext>.fromOpaque(UnsafeRawPointer(bitPattern: address)!).takeUnretainedValue()
    }
    return startContext()
}

@inline(never)
func startContext() -> AIOContext? {
    pthread_mutex_lock(startMutex)
    defer { pthread_mutex_unlock(startMutex) }
    let address = currentContext.load(ordering: .acquiring)
    if address != 0 {
        return Unmanaged<AIOContext>.fromOpaque(UnsafeRawPointer(bitPattern: address)!).takeUnretainedValue()
    }
    if !atforkRegistered {
        atforkRegistered = true
        pthread_atfork(
            { pthread_mutex_lock(startMutex) },
            { pthread_mutex_unlock(startMutex) },
            {
                // The child has none of the parent's threads: forget (leak) the parent's
                // context; the child's first aio_* call starts its own engine.
                currentContext.store(0, ordering: .releasing)
                pthread_mutex_unlock(startMutex)
            })
    }
    switch AIOContext.start() {
    case .success(let context):
        currentContext.store(UInt(bitPattern: Unmanaged.passRetained(context).toOpaque()), ordering: .releasing)
        return context
    case .failure(let f):
        if !reportedStartFailure {
            reportedStartFailure = true
            writeDiagnostic("rtio-aio: \(f.message); aio_* calls fail with EAGAIN")
        }
        return nil
    }
}
