// `nio-pool`: SwiftNIO's NIOThreadPool (NIOPosix) doing blocking pread(2), the way NIO itself
// runs blocking file I/O (NonBlockingFileIO / NIOFileSystem sit on this pool).
//
// What we did to be fair to NIO:
// * Pool size = online CPUs (2 here), NIO's own default for its blocking pool
//   (NIOSingletons.blockingPoolThreadCountSuggestion = System.coreCount).
// * The pool is started in `start` and warmed by the harness's warm-up phase; threads are not
//   counted against the measured window's latency.
// * The work item captures only plain integers (fd, offset, buffer address, length, tag) plus two
//   long-lived references, so the per-read cost is NIO's: one closure context (1 malloc) and
//   NIO's own queue/lock/condition-variable handoff (`submit` takes a lock, appends to a Deque,
//   signals a condvar).
// * Completion handoff back to the submitter is ours and cheap: a preallocated lock-free MPSC
//   ring (Vyukov) + a futex the submitter parks on only after spinning `reapSpinNanoseconds`
//   (same policy as glibc-aio). The worker pays a fence + one load when nobody is parked.
// * Pool threads opt in to the malloc counter (first thing in each work item), so NIO's
//   worker-side allocations are counted too.
// * `stop` is `syncShutdownGracefully()`, which joins the pool threads (it uses libdispatch to do
//   so, which may create dispatch threads *after* the measured window).

#if canImport(Glibc)
import Glibc
#endif
import NIOPosix
import SystemPackage
import CRealtimeIOShims
import CMallocCounter

final class NIOPoolEngine: BenchEngine {
    let name = "nio-pool"
    var skipReason: String? { nil }
    private(set) var threadsCreated = 0
    var workerThreadIDs: [Int32] { [] }

    private var pool: NIOThreadPool?
    private var queue = CompletionQueue(capacity: 2)
    private let parker = FutexParker()
    private var fd: Int32 = -1
    private var capacity = 0
    private var inFlight = 0

    init() {}

    func start(file: FileDescriptor, config: BenchEngineConfig) throws {
        fd = file.rawValue
        capacity = max(1, config.queueDepth)
        queue = CompletionQueue(capacity: capacity * 2)
        let pool = NIOThreadPool(numberOfThreads: config.cpuCount)
        pool.start()
        self.pool = pool
        threadsCreated = config.cpuCount
    }

    @inline(__always)
    func submitRead(offset: Int64, buffer: UnsafeMutableRawPointer, length: Int, tag: UInt64) -> Bool {
        guard inFlight < capacity, let pool else { return false }
        let fd = self.fd
        let address = UInt(bitPattern: buffer)
        let queue = self.queue
        let parker = self.parker
        pool.submit { state in
            rtio_malloc_counter_track(true)
            var n: Int
            if case .active = state {
                n = pread(fd, UnsafeMutableRawPointer(bitPattern: address), length, off_t(offset))
                if n < 0 { n = -Int(errno) }
            } else {
                n = -Int(ECANCELED)
            }
            while !queue.push(tag: tag, result: n) { rtio_cpu_relax() }
            parker.wakeIfParked()
        }
        inFlight += 1
        return true
    }

    @inline(__always)
    private func drain(_ body: (UInt64, Int) -> Void) -> Int {
        var delivered = 0
        while let (tag, result) = queue.pop() {
            inFlight -= 1
            delivered += 1
            body(tag, result)
        }
        return delivered
    }

    func reapCompletions(wait: Bool, _ body: (UInt64, Int) -> Void) -> Int {
        var delivered = drain(body)
        guard wait, delivered == 0, inFlight > 0 else { return delivered }
        let spinUntil = rtio_monotonic_ns() &+ reapSpinNanoseconds
        while rtio_monotonic_ns() < spinUntil {
            if queue.hasItem { return drain(body) }
            rtio_cpu_relax()
        }
        while delivered == 0 {
            let queue = self.queue
            parker.park { queue.hasItem }
            delivered = drain(body)
        }
        return delivered
    }

    func stop() {
        while inFlight > 0 { _ = reapCompletions(wait: true) { _, _ in } }
        try? pool?.syncShutdownGracefully()
        pool = nil
        fd = -1
    }
}
