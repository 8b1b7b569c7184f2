// `glibc-aio`: POSIX AIO as glibc implements it — aio_read(3) hands the request to a glibc
// helper-thread pool that does a blocking pread; completion is observed with aio_error(3)
// polling, aio_suspend(3) to park, aio_return(3) to collect.
//
// glibc defaults (we keep them; aio_init(3) could change them but only before the first aio call
// in the process, and any choice would favour one scenario): aio_threads = 20 (max helper
// threads), aio_num = 64 (initial request-table size), aio_idle_time = 1 s (an idle helper exits
// after 1 s). Helpers are created lazily *inside aio_read* when no idle helper exists — so the
// submit call itself pays pthread_create, which the burst scenario shows. Requests on the same fd
// are handled by one helper in glibc (requests are queued per file descriptor), so depth > 1 on a
// single fd gets little parallelism. Helper-thread mallocs are not counted (we cannot opt glibc's
// threads into the counter); aio_read's own allocations on the submitter thread are.
//
// Reaping: scan the in-flight aiocbs with aio_error; if none is done and `wait`, park in
// aio_suspend on the in-flight list at once, as a glibc user does (no spin: glibc's helper threads
// are created inside aio_read, so they inherit the submitter's CPU pin — and, with
// `--submitter fifo:N`, its SCHED_FIFO priority — and a submitter spinning on that CPU would
// starve them).

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage
import CRealtimeIOShims

/// How long the baseline engines that hand reads to other threads (glibc-aio, nio-pool) spin
/// polling for a completion before parking. Same value for both, for fairness.
let reapSpinNanoseconds: UInt64 = 20_000

final class GlibcAIOEngine: BenchEngine {
    let name = "glibc-aio"
    var skipReason: String? { nil }
    private(set) var threadsCreated = 0
    var workerThreadIDs: [Int32] { [] }

    private var fd: Int32 = -1
    private var capacity = 0
    private var cbs: UnsafeMutablePointer<aiocb>?
    private var slotTags: UnsafeMutablePointer<UInt64>?
    private var freeSlots: UnsafeMutablePointer<Int32>?
    private var freeCount = 0
    private var inFlight: UnsafeMutablePointer<Int32>?  // slot indices, compact
    private var inFlightCount = 0
    private var suspendList: UnsafeMutablePointer<UnsafePointer<aiocb>?>?
    private var tasksAtStart = 0

    init() {}
    deinit { release() }

    private func release() {
        cbs?.deallocate(); cbs = nil
        slotTags?.deallocate(); slotTags = nil
        freeSlots?.deallocate(); freeSlots = nil
        inFlight?.deallocate(); inFlight = nil
        suspendList?.deallocate(); suspendList = nil
    }

    func start(file: FileDescriptor, config: BenchEngineConfig) throws {
        release()
        fd = file.rawValue
        capacity = max(1, config.queueDepth)
        cbs = .allocate(capacity: capacity)
        cbs!.initialize(repeating: aiocb(), count: capacity)
        slotTags = .allocate(capacity: capacity)
        slotTags!.initialize(repeating: 0, count: capacity)
        freeSlots = .allocate(capacity: capacity)
        for i in 0..<capacity { freeSlots![i] = Int32(capacity - 1 - i) }
        freeCount = capacity
        inFlight = .allocate(capacity: capacity)
        inFlightCount = 0
        suspendList = .allocate(capacity: capacity)
        suspendList!.initialize(repeating: nil, count: capacity)
        tasksAtStart = currentTaskCount()
    }

    @inline(__always)
    func submitRead(offset: Int64, buffer: UnsafeMutableRawPointer, length: Int, tag: UInt64) -> Bool {
        guard freeCount > 0, let cbs else { return false }
        freeCount -= 1
        let slot = Int(freeSlots![freeCount])
        let cb = cbs + slot
        cb.pointee.aio_fildes = fd
        cb.pointee.aio_buf = UnsafeMutableRawPointer(buffer)
        cb.pointee.aio_nbytes = length
        cb.pointee.aio_offset = off_t(offset)
        cb.pointee.aio_reqprio = 0
        cb.pointee.aio_lio_opcode = Int32(LIO_READ)
        cb.pointee.aio_sigevent.sigev_notify = Int32(SIGEV_NONE)
        if aio_read(cb) != 0 {
            freeSlots![freeCount] = Int32(slot)
            freeCount += 1
            return false  // EAGAIN: out of resources; caller retries after reaping
        }
        slotTags![slot] = tag
        inFlight![inFlightCount] = Int32(slot)
        inFlightCount += 1
        return true
    }

    @inline(__always)
    private func scan(_ body: (UInt64, Int) -> Void) -> Int {
        guard let cbs, let inFlight else { return 0 }
        var delivered = 0
        var i = 0
        while i < inFlightCount {
            let slot = Int(inFlight[i])
            let cb = cbs + slot
            let err = aio_error(cb)
            if err == EINPROGRESS {
                i += 1
                continue
            }
            var n = aio_return(cb)
            if n < 0 { n = -Int(err) }
            inFlightCount -= 1
            inFlight[i] = inFlight[inFlightCount]
            freeSlots![freeCount] = Int32(slot)
            freeCount += 1
            delivered += 1
            body(slotTags![slot], n)
        }
        return delivered
    }

    func reapCompletions(wait: Bool, _ body: (UInt64, Int) -> Void) -> Int {
        var delivered = scan(body)
        guard wait, delivered == 0, inFlightCount > 0 else { return delivered }
        // No spin: a glibc user parks in aio_suspend. (A submitter spinning here starved the helper,
        // which glibc creates inside aio_read and which therefore inherits the submitter's CPU pin.)
        while delivered == 0 && inFlightCount > 0 {
            for i in 0..<inFlightCount { suspendList![i] = UnsafePointer(cbs! + Int(inFlight![i])) }
            _ = aio_suspend(suspendList!, Int32(inFlightCount), nil)
            delivered = scan(body)
        }
        return delivered
    }

    func stop() {
        // Drain anything still in flight (the harness normally has drained already).
        while inFlightCount > 0 { _ = reapCompletions(wait: true) { _, _ in } }
        threadsCreated = max(0, currentTaskCount() - tasksAtStart)
        release()
        fd = -1
        // glibc's helpers are process-wide and exit on their own after aio_idle_time (1 s);
        // they cannot be joined. The burst scenario waits for them to go before the next rep.
    }
}
