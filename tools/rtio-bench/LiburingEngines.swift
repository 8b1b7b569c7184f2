// `io_uring-async` and `io_uring-sqpoll`: io_uring through liburing (CLiburing, a system library
// used only by this benchmark, behind CLiburingShim's opaque API; `tools/setup` installs
// liburing-dev). swift-system's `IORing` (the
// `io_uring` engine, IOUringEngine.swift) cannot set IOSQE_ASYNC or the SQPOLL setup flags.
//
// These are the fair anchors for a hand-off engine: the page-cached read runs on another thread,
// as it does in `prealloc-*`, instead of inline in the submitter's io_uring_enter.
//
// * `io_uring-async`: every SQE carries IOSQE_ASYNC, so the kernel punts it to the ring's io-wq
//   worker pool (`iou-wrk-<pid>` threads, created on demand by the kernel and kept while busy,
//   exiting after ~5 s idle). Submit = io_uring_submit (one io_uring_enter per read). Where the
//   workers run: observed on Linux 6.18, an io-wq worker inherits the affinity and the scheduling
//   policy of the task that caused its creation — the pinned submitter (e.g. "FIFO 20, cpus 0"
//   under `--submitter fifo:20`). Left at that default, as a user gets it: the submitter sleeps in
//   io_uring_wait_cqe while a read is in flight, so the worker is not starved.
//   RTIO_BENCH_IOWQ_CPU=other pins io-wq to the prealloc worker's CPU (IORING_REGISTER_IOWQ_AFF)
//   for a hand-off to the other CPU.
// * `io_uring-sqpoll`: IORING_SETUP_SQPOLL | IORING_SETUP_SQ_AFF, the kernel polling thread
//   (`iou-sqp-<pid>`) bound to the first CPU that is not the submitter's — where `prealloc-*`
//   pins its worker. The polling thread spins on the SQ for `sq_thread_idle` = 1 ms after the last
//   submission (the smallest idle the interface expresses; our worker's spin budget is 1 ms too;
//   `RTIO_BENCH_SQPOLL_IDLE_MS` overrides it), then sleeps and a submit must wake it
//   (io_uring_submit does that with IORING_ENTER_SQ_WAKEUP only when the kernel flagged it asleep,
//   otherwise submit is a store to the SQ tail and no syscall). It is SCHED_OTHER, as fio and
//   liburing users get it (RTIO_BENCH_SQPOLL_SCHED=fifo:N creates it at SCHED_FIFO N; it then
//   spins at real-time priority with no share limit, so the kernel's RT throttle bounds it). Its CPU time is
//   accounted to the process (it is a thread of the process since Linux 5.12), and the harness
//   also reads it per task from /proc/self/task/<tid>/schedstat (the "wrk" CPU column).
//
// Reaping (both), the way liburing users wait: io_uring_peek_cqe without waiting,
// io_uring_wait_cqe (io_uring_enter GETEVENTS, sleeping in the kernel) with `wait: true`.
// Completions are read from the CQ ring in user space; no spin on the submitter side.

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage
import RealtimeIOLinux
import CLiburingShim

final class LiburingEngine: BenchEngine {
    enum Mode {
        /// Every SQE IOSQE_ASYNC: served by io-wq workers.
        case async
        /// A kernel SQ polling thread pinned like the prealloc worker.
        case sqpoll
    }

    let name: String
    let mode: Mode
    var skipReason: String? { nil }
    var threadsCreated: Int { 0 }
    var workerThreadIDs: [Int32] { [] }

    private var ring: OpaquePointer?
    private var fd: Int32 = -1
    private var capacity = 0
    private var inFlight = 0

    init(mode: Mode) {
        self.mode = mode
        name = mode == .async ? "io_uring-async" : "io_uring-sqpoll"
    }

    deinit { rtio_uring_destroy(ring) }

    /// The first online CPU that is not the submitter's (nil on a 1-CPU machine): the prealloc
    /// engines' worker CPU.
    static func workerCPU(avoiding submitter: Int32) -> Int32? {
        guard let online = try? SystemTopology.onlineCPUs(),
              let cpu = online.cpus.first(where: { $0 != Int(submitter) }) else { return nil }
        return Int32(cpu)
    }

    func start(file: FileDescriptor, config: BenchEngineConfig) throws {
        fd = file.rawValue
        capacity = max(1, config.queueDepth)
        var entries: UInt32 = 8
        while entries < UInt32(capacity) { entries <<= 1 }
        var sqpollCPU: Int32 = -1
        var idleMs: UInt32 = 1
        if mode == .sqpoll {
            sqpollCPU = Self.workerCPU(avoiding: config.submitterCPU) ?? config.submitterCPU
            if let text = getenv("RTIO_BENCH_SQPOLL_IDLE_MS"), let v = UInt32(String(cString: text)) { idleMs = v }
        }
        rtio_uring_destroy(ring)
        var rc: Int32 = 0
        // The SQPOLL thread copies the scheduling policy of the thread that creates the ring:
        // RTIO_BENCH_SQPOLL_SCHED=fifo:N creates it with this thread at SCHED_FIFO N (restored after).
        var restore: (policy: Int32, param: sched_param)? = nil
        if mode == .sqpoll, let text = getenv("RTIO_BENCH_SQPOLL_SCHED"),
           case let .fifo(priority)? = try? SubmitterMode(parsing: String(cString: text)) {
            var old = sched_param()
            var policy: Int32 = 0
            pthread_getschedparam(pthread_self(), &policy, &old)
            var p = sched_param(sched_priority: priority)
            if pthread_setschedparam(pthread_self(), SCHED_FIFO, &p) == 0 { restore = (policy, old) }
        }
        ring = rtio_uring_create(entries, sqpollCPU, idleMs, &rc)
        if var r = restore { pthread_setschedparam(pthread_self(), r.policy, &r.param) }
        guard ring != nil else {
            throw BenchEngineSkip("io_uring_queue_init_params(\(entries), \(mode == .sqpoll ? "SQPOLL|SQ_AFF cpu \(sqpollCPU)" : "no flags")) failed: \(String(cString: strerror(-rc)))")
        }
        if mode == .async, let text = getenv("RTIO_BENCH_IOWQ_CPU"), String(cString: text) == "other",
           let cpu = Self.workerCPU(avoiding: config.submitterCPU) {
            let pin = rtio_uring_pin_iowq(ring, cpu)
            if pin != 0 { throw BenchEngineSkip("IORING_REGISTER_IOWQ_AFF cpu \(cpu) failed: \(String(cString: strerror(-pin)))") }
        }
        inFlight = 0
    }

    @inline(__always)
    func submitRead(offset: Int64, buffer: UnsafeMutableRawPointer, length: Int, tag: UInt64) -> Bool {
        guard inFlight < capacity, let ring else { return false }
        guard rtio_uring_prep_read(ring, fd, buffer, UInt32(length), UInt64(offset), tag,
                                   mode == .async ? 1 : 0) == 0 else { return false }
        // A failed submit leaves the SQE queued; it goes with the next successful one.
        _ = rtio_uring_submit(ring)
        inFlight += 1
        return true
    }

    func reapCompletions(wait: Bool, _ body: (UInt64, Int) -> Void) -> Int {
        guard let ring else { return 0 }
        var delivered = 0
        var tag: UInt64 = 0
        var result: Int32 = 0
        while rtio_uring_reap_one(ring, 0, &tag, &result) == 1 {
            inFlight -= 1
            delivered += 1
            body(tag, Int(result))
        }
        while wait && delivered == 0 && inFlight > 0 {
            let rc = rtio_uring_reap_one(ring, 1, &tag, &result)
            if rc == 1 {
                inFlight -= 1
                delivered += 1
                body(tag, Int(result))
            } else if rc < 0 && rc != -EINTR {
                // With SQPOLL an SQE may still sit unsubmitted (-EBUSY/-EAGAIN): push it again.
                _ = rtio_uring_submit(ring)
            }
        }
        return delivered
    }

    func stop() {
        while inFlight > 0 { _ = reapCompletions(wait: true) { _, _ in } }
        rtio_uring_destroy(ring)
        ring = nil
        fd = -1
    }
}
