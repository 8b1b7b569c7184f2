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
import RealtimeIO
import CRealtimeIOShims
import CMallocCounter

final class NIOPoolEngine: BenchEngine {
    let name = "nio-pool"
    var skipReason: String? { nil }
    private(set) var threadsCreated = 0
    var workerThreadIDs: [Int32] { [] }

    private var pool: NIOThreadPool?
    /// Completions back to the submitter: the library's MPSC ring (pool threads
    /// produce, the submitter consumes and parks on its futex when idle), each entry
    /// the harness tag (< 2^32) and the result packed into 64 bits.
    private var completions = try! SubmissionRing(capacity: 2)
    private var fd: Int32 = -1
    private var capacity = 0
    private var inFlight = 0

    init() {}

    func start(file: FileDescriptor, config: BenchEngineConfig) throws {
        fd = file.rawValue
        capacity = max(1, config.queueDepth)
        var ringCapacity = 2
        while ringCapacity < capacity * 2 { ringCapacity <<= 1 }
        completions = try SubmissionRing(capacity: ringCapacity)
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
        let completions = self.completions
        pool.submit { state in
            rtio_malloc_counter_track(true)
            var n: Int
            if case .active = state {
                n = pread(fd, UnsafeMutableRawPointer(bitPattern: address), length, off_t(offset))
                if n < 0 { n = -Int(errno) }
            } else {
                n = -Int(ECANCELED)
            }
            let entry = tag << 32 | UInt64(UInt32(bitPattern: Int32(truncatingIfNeeded: n)))
            while !completions.tryPush(entry) { rtio_cpu_relax() }  // wakes the submitter if parked
        }
        inFlight += 1
        return true
    }

    @inline(__always)
    private func drain(_ body: (UInt64, Int) -> Void) -> Int {
        let delivered = completions.drain(maximum: .max) { entry in
            body(entry >> 32, Int(Int32(bitPattern: UInt32(truncatingIfNeeded: entry))))
        }
        inFlight -= delivered
        return delivered
    }

    func reapCompletions(wait: Bool, _ body: (UInt64, Int) -> Void) -> Int {
        var delivered = drain(body)
        guard wait, delivered == 0, inFlight > 0 else { return delivered }
        while delivered == 0 {
            _ = completions.waitForEntries(spinNanoseconds: Int64(reapSpinNanoseconds))
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
