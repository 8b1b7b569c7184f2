// `handoff-floor`: the least a hand-off can cost on this machine. Not a product and not a
// contender: a yardstick in the same run, so that "hand-off X is within N of the read itself"
// can be told apart from "any hand-off is".
//
// One SCHED_OTHER thread pinned to the CPU the submitter does not use spins (no budget, no
// rest, no policy) on a single-producer single-consumer ring of 64-byte cells. A cell holds its
// state word and the whole request and result, so a request moves one cache line to the worker
// and one back: the minimum for a hand-off between two CPUs. It has none of what an engine
// needs — several producers, cancellation, slots that outlive the ring, completion
// notification, bounded spinning — and it burns its CPU for the whole run.
//
// Cell protocol (one line each): state 0 free → 1 queued (host: fields, then store-release) →
// 2 done (worker: result, then store-release) → 0 (host, after reading the result).

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage
import Synchronization
import CRealtimeIOShims

final class HandoffFloorEngine: BenchEngine {
    let name = "handoff-floor"
    var skipReason: String? { nil }
    var threadsCreated: Int { worker == nil ? 0 : 1 }
    var workerThreadIDs: [Int32] { shared.map { [$0.tid.load(ordering: .acquiring)] } ?? [] }

    /// What the worker thread and the host share: the cells and the stop flag.
    private final class Shared: @unchecked Sendable {
        static let cellBytes = 64
        let cells: UnsafeMutableRawPointer
        let mask: Int
        let fd: Int32
        let stop = Atomic<Bool>(false)
        let tid = Atomic<Int32>(0)

        init(count: Int, fd: Int32) {
            var raw: UnsafeMutableRawPointer?
            precondition(posix_memalign(&raw, Self.cellBytes, count * Self.cellBytes) == 0, "posix_memalign")
            cells = raw!
            memset(cells, 0, count * Self.cellBytes)
            for i in 0..<count {
                Self.state(cells + i * Self.cellBytes).initialize(to: Atomic(0))
                Self.request(cells + i * Self.cellBytes).initialize(to: Request())
            }
            mask = count - 1
            self.fd = fd
        }
        deinit { free(cells) }

        @inline(__always) static func state(_ cell: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Atomic<UInt64>> {
            cell.assumingMemoryBound(to: Atomic<UInt64>.self)
        }
        /// The request and its result, after the state word in the same line.
        @inline(__always) static func request(_ cell: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Request> {
            (cell + MemoryLayout<Atomic<UInt64>>.stride).assumingMemoryBound(to: Request.self)
        }
        @inline(__always) func cell(_ i: Int) -> UnsafeMutableRawPointer { cells + (i & mask) * Self.cellBytes }

        /// The worker: take cells in order, read, publish the result.
        func serve() {
            tid.store(rtio_gettid(), ordering: .releasing)
            var next = 0
            while true {
                let c = cell(next)
                while Self.state(c).pointee.load(ordering: .acquiring) != 1 {
                    if stop.load(ordering: .relaxed) { return }
                    rtio_cpu_relax()
                }
                let r = Self.request(c)
                var n = pread(fd, r.pointee.buffer, r.pointee.length, off_t(r.pointee.offset))
                if n < 0 { n = -Int(errno) }
                r.pointee.result = n
                Self.state(c).pointee.store(2, ordering: .releasing)
                next &+= 1
            }
        }
    }

    /// One cell's request and result (40 bytes: with the state word, one line).
    private struct Request {
        var offset: Int64 = 0
        var buffer: UnsafeMutableRawPointer? = nil
        var length = 0
        var tag: UInt64 = 0
        var result = 0
    }

    private var shared: Shared?
    private var worker: BenchThread?
    private var head = 0
    private var tail = 0

    func start(file: FileDescriptor, config: BenchEngineConfig) throws {
        guard config.cpuCount >= 2 else { throw BenchEngineSkip("needs 2 CPUs (worker on the CPU the submitter does not use)") }
        var count = 1
        while count < max(2, config.queueDepth) { count <<= 1 }
        let s = Shared(count: count, fd: file.rawValue)
        shared = s
        head = 0
        tail = 0
        let cpu = (config.submitterCPU + 1) % Int32(config.cpuCount)
        worker = BenchThread(cpu: cpu) { s.serve() }
        while s.tid.load(ordering: .acquiring) == 0 { sched_yield() }
    }

    @inline(__always)
    func submitRead(offset: Int64, buffer: UnsafeMutableRawPointer, length: Int, tag: UInt64) -> Bool {
        guard let s = shared else { return false }
        let c = s.cell(head)
        guard Shared.state(c).pointee.load(ordering: .acquiring) == 0 else { return false }
        Shared.request(c).pointee = Request(offset: offset, buffer: buffer, length: length, tag: tag)
        Shared.state(c).pointee.store(1, ordering: .releasing)
        head &+= 1
        return true
    }

    @inline(__always)
    func reapCompletions(wait: Bool, _ body: (UInt64, Int) -> Void) -> Int {
        guard let s = shared else { return 0 }
        var delivered = 0
        var spinUntil: UInt64 = 0
        while true {
            while tail != head {
                let c = s.cell(tail)
                guard Shared.state(c).pointee.load(ordering: .acquiring) == 2 else { break }
                let (tag, result) = (Shared.request(c).pointee.tag, Shared.request(c).pointee.result)
                Shared.state(c).pointee.store(0, ordering: .releasing)
                tail &+= 1
                delivered += 1
                body(tag, result)
            }
            if delivered > 0 || !wait || tail == head { return delivered }
            // Spin up to 1 ms (a floor should not pay for a wake-up), then sleep in 50 µs steps.
            let now = rtio_monotonic_ns()
            if spinUntil == 0 { spinUntil = now &+ 1_000_000 }
            if now < spinUntil { rtio_cpu_relax() } else { usleep(50) }
        }
    }

    func stop() {
        guard let s = shared else { return }
        // Collect what is in flight, then stop the worker.
        while tail != head { _ = reapCompletions(wait: true) { _, _ in } }
        s.stop.store(true, ordering: .relaxed)
        worker?.join()
        worker = nil
        shared = nil
    }
}
