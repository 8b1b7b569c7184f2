// On-demand engines: threads created when a burst needs them, after QEMU's posix-aio-compat.
//
// * `ondemand`: `IOEngine` in pure on-demand mode (no groups) — RealtimeIO's `OnDemandPool` with
//   the 2011 latency fix: submit never creates a thread; the spawn "bottom half" runs on a
//   spawner thread and each newborn worker creates the next one (the chain). Spawner
//   `spawnerThread`, because here the submitter *is* the host loop and is pinned to CPU 1: a
//   `hostLoop` pool would have its first worker born from the pinned submitter (inside `reap`) and
//   the chain would inherit CPU 1. The spawner thread is created in `start`, before the submitter
//   pins itself (see the BenchEngine contract), so it — and every worker — keeps all CPUs, as
//   QEMU's workers inherit the main loop's affinity, not the vCPU's.
//   (`reap` on the pinned submitter does not run the bottom half in this mode.) Observed on the
//   2-CPU VM: the chain runs on the free CPU, one newborn after another (each ~50 µs: stack mmap,
//   clone, malloc arena), and each newborn preempts its creator before that one takes a request,
//   so the first read completes only when most of the backlog exists (~3 ms for 64).
// * `prepatch`: `PrePatchBaselinePool` (PrePatchBaseline/, the deliberately buggy baseline), the
//   bug the patch fixed: the submitting thread runs pthread_create inside `submit`, under the
//   queue lock, once per request while no worker is idle; workers inherit the submitter's CPU-1
//   pin. Never use it outside this bench.
//
// Both: maxThreads 64 (QEMU's max_threads), idle timeout 10 s (longer than a burst rep, so a rep's
// workers are all alive when the harness reads their CPUs; `stop` joins them). Completions:
// `ondemand` through the engine's reap (on-demand completions are a Mutex-protected FIFO plus the
// coalesced eventfd); `prepatch` through a Mutex-protected array swap plus its own coalesced
// eventfd. Waiting: spin `reapSpinNanoseconds` (20 µs, as the other engines), then poll(2).
// Each engine prints, on stderr at `stop`, the threads the submitter created itself between the
// end of `start` and `stop` (CMallocCounter's pthread_create interposer counts per creating
// thread — exact, unlike the /proc diff, which also sees threads born meanwhile on other threads).

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage
import RealtimeIO
import CRealtimeIOShims
import CMallocCounter
import PrePatchBaseline
import Synchronization

func onDemandBenchEngines() -> [any BenchEngine] {
    [OnDemandBenchEngine(), PrePatchBenchEngine()]
}

final class OnDemandBenchEngine: BenchEngine {
    let name = "ondemand"
    var skipReason: String? { nil }
    private(set) var threadsCreated = 0
    var workerThreadIDs: [Int32] { engine?.onDemandWorkerThreadIDs ?? [] }

    private var engine: IOEngine? { driven.engine }
    private var fd = FileDescriptor(rawValue: -1)
    /// The engine and its driver (`DrivenEngine`: no exclusivity check or reference count per call).
    private let driven = DrivenEngine(spinNanoseconds: reapSpinNanoseconds)
    /// The submitter's own creations when `start` returned (`start` and `stop` run on the submitter).
    private var submitterCreationsAtStart: UInt64 = 0

    init() {}

    func start(file: FileDescriptor, config: BenchEngineConfig) throws {
        fd = file
        driven.driver.reset()
        let configuration = EngineConfiguration(
            groups: [], requestsInFlight: max(1, config.queueDepth), memoryLocking: .none, privilegePolicy: .bestEffort,
            spinBudget: .nanoseconds(0), completionDelivery: .completionRing, tuneMalloc: false,
            onDemand: EngineConfiguration.OnDemand(maxThreads: 64, idleTimeout: .seconds(10), spawner: .spawnerThread))
        do {
            let engine = try IOEngine(configuration: configuration)
            driven.attach(engine)
        } catch {
            throw BenchEngineSkip("IOEngine (on-demand) init failed: \(error)")
        }
        submitterCreationsAtStart = rtio_thread_creations_by_current_thread()  // after the spawner thread
    }

    @inline(__always)
    func submitRead(offset: Int64, buffer: UnsafeMutableRawPointer, length: Int, tag: UInt64) -> Bool {
        driven.submitRead(fd: fd, offset: offset, buffer: buffer, length: length, tag: tag, placement: .leastLoaded)
    }

    func reapCompletions(wait: Bool, _ body: (UInt64, Int) -> Void) -> Int {
        driven.reap(wait: wait, body)
    }

    func stop() {
        guard let engine else { return }
        driven.driver.drain(engine)
        let stats = engine.onDemandStatistics
        let bySubmitter = rtio_thread_creations_by_current_thread() &- submitterCreationsAtStart
        engine.shutdown(.drain)  // joins every worker and the spawner thread
        threadsCreated = (stats?.threadsCreated ?? 0) + 1  // + the spawner thread
        fputs("   ondemand: workers created \(stats?.threadsCreated ?? 0) (+1 spawner), by the submitter \(bySubmitter), peak \(stats?.peakThreads ?? 0)\n", standardError())
        driven.detach()
        fd = FileDescriptor(rawValue: -1)
    }
}

final class PrePatchBenchEngine: BenchEngine {
    let name = "prepatch"
    var skipReason: String? { nil }
    private(set) var threadsCreated = 0
    var workerThreadIDs: [Int32] { pool?.workerThreadIDs ?? [] }

    /// Completed slots, filled by workers; swapped out whole by the reaper (capacity kept: no allocation).
    private final class Completions: @unchecked Sendable {
        let slots = Mutex<[UInt32]>([])
        let notified = Atomic<Bool>(false)
        let eventFD: Int32
        init(capacity: Int) {
            slots.withLock { $0.reserveCapacity(capacity) }
            eventFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        }
        deinit { close(eventFD) }
        func push(_ slot: UInt32) {
            slots.withLock { $0.append(slot) }
            if !notified.exchange(true, ordering: .acquiringAndReleasing) {
                var one: UInt64 = 1
                _ = write(eventFD, &one, 8)
            }
        }
    }

    private var slab: RequestSlab?
    private var pool: PrePatchBaselinePool?
    private var completions: Completions?
    private var taken: [UInt32] = []
    private var fd = FileDescriptor(rawValue: -1)
    private var inFlight = 0
    /// The submitter's own creations when `start` returned (`start` and `stop` run on the submitter).
    private var submitterCreationsAtStart: UInt64 = 0

    init() {}
    deinit { pool?.shutdown(.cancel) }

    func start(file: FileDescriptor, config: BenchEngineConfig) throws {
        fd = file
        inFlight = 0
        let depth = max(1, config.queueDepth)
        let slab = try RequestSlab(count: depth)
        let completions = Completions(capacity: depth)
        taken = []
        taken.reserveCapacity(depth)
        self.slab = slab
        self.completions = completions
        pool = try PrePatchBaselinePool(
            slab: slab, maxThreads: 64, idleTimeout: .seconds(10), onCompletion: { slot in completions.push(slot) })
        submitterCreationsAtStart = rtio_thread_creations_by_current_thread()
    }

    @inline(__always)
    func submitRead(offset: Int64, buffer: UnsafeMutableRawPointer, length: Int, tag: UInt64) -> Bool {
        guard let pool, let slab, let slot = slab.acquire() else { return false }
        let r = slab.record(slot)
        r.pointee.opcode = .read
        r.pointee.fd = fd.rawValue
        r.pointee.buffer = buffer
        r.pointee.length = length
        r.pointee.offset = offset
        r.pointee.tag = tag
        do { try pool.submit(slot) } catch {
            slab.release(slot)
            return false
        }
        inFlight += 1
        return true
    }

    private func drain(_ body: (UInt64, Int) -> Void) -> Int {
        guard let completions, let slab else { return 0 }
        completions.slots.withLock { swap(&$0, &taken) }
        let n = taken.count
        for slot in taken {
            let r = slab.record(slot)
            let (tag, result) = (r.pointee.tag, r.pointee.result)
            slab.release(slot)
            body(tag, result)
        }
        taken.removeAll(keepingCapacity: true)
        inFlight -= n
        return n
    }

    func reapCompletions(wait: Bool, _ body: (UInt64, Int) -> Void) -> Int {
        guard let completions else { return 0 }
        var delivered = drain(body)
        guard wait, delivered == 0, inFlight > 0 else { return delivered }
        let spinUntil = rtio_monotonic_ns() &+ reapSpinNanoseconds
        repeat {
            rtio_cpu_relax()
            delivered = drain(body)
            if delivered > 0 { return delivered }
        } while rtio_monotonic_ns() < spinUntil
        var pfd = pollfd(fd: completions.eventFD, events: Int16(POLLIN), revents: 0)
        while true {
            // Re-arm: clear the flag and the counter, then look again before sleeping.
            completions.notified.store(false, ordering: .sequentiallyConsistent)
            var counter: UInt64 = 0
            _ = read(completions.eventFD, &counter, 8)
            delivered = drain(body)
            if delivered > 0 { return delivered }
            _ = poll(&pfd, 1, 100)
        }
    }

    func stop() {
        guard let pool else { return }
        while inFlight > 0 { _ = reapCompletions(wait: true) { _, _ in } }
        let stats = pool.statistics
        let bySubmitter = rtio_thread_creations_by_current_thread() &- submitterCreationsAtStart
        pool.shutdown(.drain)
        threadsCreated = stats.threadsCreated
        fputs("   prepatch: workers created \(stats.threadsCreated), by the submitter \(bySubmitter) (inside submit, under the lock), peak \(stats.peakThreads)\n", standardError())
        self.pool = nil
        completions = nil
        slab = nil
        fd = FileDescriptor(rawValue: -1)
    }
}
