// The product's engines: RealtimeIO's `IOEngine` (preallocated workers, lock-free submission
// ring, coalesced eventfd completions), in two flavours that differ only in the worker's idle
// policy.
//
// * `prealloc-spin`: one worker, pinned to the CPU that is not the submitter's, SCHED_FIFO 10
//   when privileges allow (`privilegePolicy: .bestEffort`, so it degrades to SCHED_OTHER
//   cleanly), spin budget 1 ms: an idle worker polls its ring for 1 ms, then parks on its
//   futex, so it can never monopolise its core for more than 1 ms after the last request (and
//   never beyond its real-time share). 1 ms, not 200 µs: at 20 000 reads/s the worker parked
//   68 times in 5 s with 200 µs (each costing the next submit a futex wake and the read the
//   worker's wake-up), 2 times with 1 ms; p99 5.8 vs 4.0 µs (2026-11-30, docs/DESIGN.md).
// * `prealloc-park`: the same with spin budget 0: the worker parks as soon as its ring is empty,
//   so (at low rates) every submit pays the futex wake syscall and the worker's wake-up latency.
// * `prealloc-group` (for `--direct`): one group of min(queue depth, 32) workers, all pinned to
//   the non-submitter CPU, spin budget 0 (a worker sleeps in the block layer, then parks: FIFO
//   workers that never spin cannot starve the CPU), least-loaded placement (an idle worker
//   first), so N device reads can be in flight at once, each blocked in its worker's pread.
//   FIFO 10 like the others: measured on the loaded 2-CPU VM (load ~13) at --direct depth 8/32,
//   SCHED_OTHER workers reached 0.18x/0.22x io_uring's IOPS, FIFO 10 0.71x/0.88x (the OTHER
//   workers queue behind every other runnable task on their CPU). RTIO_BENCH_GROUP_SCHED=
//   fifo:N|other overrides it. Not in the page-cache default runs.
// * `prealloc-group-float` (for `--direct`): the same group with no CPU list: its FIFO workers
//   may run on the submitter's CPU too (and preempt a SCHED_OTHER submitter there). Same VM:
//   1.17x/1.21x io_uring's IOPS at depth 8/32, where the pinned group got 0.77x/0.84x — one
//   CPU's worth of wake-ups and completions is the pinned group's ceiling on 2 CPUs.
// * `prealloc-ring` (for `--direct`): one worker, pinned and FIFO 10 like `prealloc-spin`, with
//   `inFlight: 32`: it keeps up to 32 reads in its own io_uring (the engine's `WorkerIORing`).
//   Spin budget 100 µs: with reads in flight the worker polls its CQ ring and its queue that long
//   before sleeping in io_uring_enter; with 0 every completion also cost the worker a wake-up
//   (depth 8: 0.61-0.84x io_uring against 0.90-1.25x with 100 µs, 2026-11-30, docs/DESIGN.md).
//   Knobs: RTIO_BENCH_RING_SPIN_NS, RTIO_BENCH_RING_IN_FLIGHT, RTIO_BENCH_RING_CPUS (a CPU
//   list), RTIO_BENCH_RING_FLOAT=1 (no CPU list).
//
// Configuration choices, so the numbers can be judged:
// * `memoryLocking: .none`. mlockall(MCL_CURRENT|MCL_FUTURE) would lock the whole bench process
//   (NIO, io_uring rings, the 64 MiB test file mapping, every later malloc) for the other
//   engines too, which changes their numbers; the engine's own memory is prefaulted at init
//   anyway (slab, rings, worker stack prefault), so there is nothing to fault on the hot path.
// * `tuneMalloc: false` (it only matters with memory locked, and it is process-global).
// * ring capacity = next power of two >= queue depth; request slots = queue depth: the harness
//   never has more in flight, so `submit` can never see `.full` from the engine's side.
// * `placement: .worker(0)`: the single worker, no least-loaded scan.
//
// Submit: `IOEngine.submit(.read(...), tag:)` — no allocation, no lock, and no syscall unless the
// worker is parked (then one futex wake) or rests (then one `preadv2(RWF_NOWAIT)`: the engine's
// `submitterReadsDuringRest`, on by default; RTIO_BENCH_PREALLOC_READS_DURING_REST=0 turns it
// off). `SubmitError` (typed throw, no existential box) maps to `false` (busy).
//
// Completions:
// * `wait: false`: `reap(rearm: false)` — a pure poll of the completion ring; neither side makes a
//   syscall (the worker writes the eventfd at most once until the host re-arms).
// * `wait: true`: poll `reap(rearm: false)` for up to `reapSpinNanoseconds` (20 µs, the same budget
//   the glibc-aio and nio-pool baselines use on the submitter side), then loop
//   `reap(rearm: true)` + poll(2) on `completionFD`: a reap that finds nothing re-arms the eventfd
//   (reads it, clears the coalescing flag, re-checks), so the worker's next completion makes the
//   fd readable. A plain `reap(rearm: false)` + poll would sleep forever after the first
//   notification: the worker only writes the eventfd again after a re-arm.
//   (Measured both on the 2-CPU VM: without the 20 µs spin every `wait: true` costs an eventfd
//   read + poll sleep + worker eventfd write, which roughly halves depth-1 throughput; see the
//   report in the commit message.)

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage
import RealtimeIO
import RealtimeIOLinux
import CRealtimeIOShims

func preallocBenchEngines() -> [any BenchEngine] {
    [
        PreallocEngine(name: "prealloc-spin", spinBudgetNanoseconds: 1_000_000, servesStalled: true),
        PreallocEngine(name: "prealloc-park", spinBudgetNanoseconds: 0),
        PreallocEngine(name: "prealloc-group", spinBudgetNanoseconds: 0, workersPerDepth: true),
        PreallocEngine(name: "prealloc-group-float", spinBudgetNanoseconds: 0, workersPerDepth: true, floating: true),
        PreallocEngine(name: "prealloc-ring", spinBudgetNanoseconds: 100_000, inFlight: 32),
    ]
}

/// Engines that only make sense for device reads (`--direct`): left out of the default page-cache
/// runs, still selectable with `--engines`.
let directOnlyEngineNames: Set<String> = ["prealloc-group", "prealloc-group-float", "prealloc-ring"]

final class PreallocEngine: BenchEngine {
    let name: String
    var skipReason: String? { nil }
    private(set) var threadsCreated = 0
    var workerThreadIDs: [Int32] { engine?.workerThreadIDs ?? [] }
    /// What `IOEngine` could not apply (e.g. SCHED_FIFO without privileges); empty when all applied.
    private(set) var degradations: [String] = []

    private let spinBudgetNanoseconds: Int
    /// One worker per request in flight (up to 32) instead of one worker.
    private let workersPerDepth: Bool
    /// Workers may run on every CPU, the submitter's included (no `cpus`).
    private let floating: Bool
    /// Requests the worker keeps in flight through its own io_uring (1: blocking syscalls).
    private let inFlight: Int
    /// The host serves a read it waits for when the worker rests or has taken
    /// nothing for 2 µs (`IOEngine.serveHere`), instead of reads during a rest in submit.
    private let servesStalled: Bool
    private var placement = Placement.worker(0)
    private var engine: IOEngine? { driven.engine }
    private var fd = FileDescriptor(rawValue: -1)
    /// Submitter-side spin before sleeping on the eventfd in `reapCompletions(wait: true)`.
    /// `RTIO_BENCH_PREALLOC_REAP_SPIN_NS` overrides it (the experiment behind the default).
    /// The engine and its driver (`DrivenEngine`: no exclusivity check or reference count per call).
    private let driven = DrivenEngine(spinNanoseconds: reapSpinNanoseconds)

    /// Cheap: no engine, no threads until `start`.
    init(
        name: String, spinBudgetNanoseconds: Int, workersPerDepth: Bool = false, floating: Bool = false, inFlight: Int = 1,
        servesStalled: Bool = false
    ) {
        self.name = name
        self.servesStalled = servesStalled
        self.inFlight = inFlight
        self.floating = floating
        self.spinBudgetNanoseconds = spinBudgetNanoseconds
        self.workersPerDepth = workersPerDepth
    }


    /// The first online CPU that is not the submitter's (nil on a 1-CPU machine: float).
    private static func workerCPU(avoiding submitter: Int32) -> CPUList? {
        guard let online = try? SystemTopology.onlineCPUs(),
              let cpu = online.cpus.first(where: { $0 != Int(submitter) }) else { return nil }
        return try? CPUList([cpu])
    }

    /// The workers' CPUs: the one that is not the submitter's, or none (float) for `-float`.
    private func groupCPUs(submitter: Int32) -> CPUList? {
        if inFlight > 1, let text = getenv("RTIO_BENCH_RING_CPUS") { return try? CPUList(parsing: String(cString: text)) }
        return floating || (inFlight > 1 && getenv("RTIO_BENCH_RING_FLOAT") != nil) ? nil : Self.workerCPU(avoiding: submitter)
    }

    func start(file: FileDescriptor, config: BenchEngineConfig) throws {
        fd = file
        driven.driver.reset()
        if let text = getenv("RTIO_BENCH_PREALLOC_REAP_SPIN_NS"), let ns = UInt64(String(cString: text)) {
            driven.driver.spinNanoseconds = ns
        }
        // RTIO_BENCH_SERVE_AFTER_NS=N: serve a stalled head after N ns (0: never).
        driven.driver.serveAfterNanoseconds = servesStalled ? 2_000 : 0
        if let text = getenv("RTIO_BENCH_SERVE_AFTER_NS"), let ns = UInt64(String(cString: text)) {
            driven.driver.serveAfterNanoseconds = ns
        }
        let depth = max(1, config.queueDepth)
        // A request the host served keeps its slot and ring cell until the worker
        // passes it (at its next slice during a rest): room for those too.
        let slots = depth + (driven.driver.serveAfterNanoseconds > 0 ? 256 : 0)
        var ring = 2
        while ring < slots { ring <<= 1 }
        // Experiment knobs (the defaults are what the README's figures use):
        // RTIO_BENCH_PREALLOC_SCHED=other|fifo:N|rr:N, RTIO_BENCH_PREALLOC_DUTY=1...100,
        // RTIO_BENCH_PREALLOC_REST=park|demote; RTIO_BENCH_WORKER_HISTOGRAMS=1 prints the
        // worker's queue-wait and service-time buckets at stop.
        var scheduling = SchedulingPolicy.fifo(priority: 10)
        if let text = getenv(workersPerDepth ? "RTIO_BENCH_GROUP_SCHED" : "RTIO_BENCH_PREALLOC_SCHED"),
           let p = try? SchedulingPolicy(parsing: String(cString: text)) {
            scheduling = p
        }
        let workers = workersPerDepth ? min(depth, 32) : 1
        placement = workers == 1 ? .worker(0) : .leastLoaded
        var duty = 85
        if let text = getenv("RTIO_BENCH_PREALLOC_DUTY"), let d = Int(String(cString: text)) { duty = d }
        // RTIO_BENCH_PREALLOC_REST=slices|park|demote, RTIO_BENCH_PREALLOC_SLICE_NS=N: the rest past
        // the share (default: the engine's, `.slices` of 10 µs).
        let defaults = EngineConfiguration(groups: [])
        var rest = defaults.realtimeShareRest
        if let text = getenv("RTIO_BENCH_PREALLOC_REST"), let r = EngineConfiguration.RealtimeShareRest(rawValue: String(cString: text)) { rest = r }
        // A host that serves what arrives during a rest needs no short slices: 50 µs
        // (a fifth of the 10 µs default's timer wake-ups).
        var slice = driven.driver.serveAfterNanoseconds > 0 ? .microseconds(50) : defaults.realtimeShareRestSlice
        if let text = getenv("RTIO_BENCH_PREALLOC_SLICE_NS"), let ns = Int64(String(cString: text)) { slice = .nanoseconds(ns) }
        // RTIO_BENCH_PREALLOC_SPIN_NS=N: the spin budget (idle time before the worker parks).
        var spinBudget = Int64(spinBudgetNanoseconds)
        let spinKnob = inFlight > 1 ? "RTIO_BENCH_RING_SPIN_NS" : workersPerDepth ? "RTIO_BENCH_GROUP_SPIN_NS" : "RTIO_BENCH_PREALLOC_SPIN_NS"
        if let text = getenv(spinKnob), spinBudget > 0 || workersPerDepth || inFlight > 1, let ns = Int64(String(cString: text)) {
            spinBudget = ns
        }
        // RTIO_BENCH_RING_IN_FLIGHT=N: prealloc-ring's depth (default 32).
        var inFlight = self.inFlight
        if inFlight > 1, let text = getenv("RTIO_BENCH_RING_IN_FLIGHT"), let n = Int(String(cString: text)) { inFlight = n }
        // RTIO_BENCH_PREALLOC_READS_DURING_REST=0: reads always wait for the worker (the engine's default is on).
        // A serving host does not read in submit (submit stays syscall-free).
        var readsDuringRest = driven.driver.serveAfterNanoseconds > 0 ? false : defaults.submitterReadsDuringRest
        if let text = getenv("RTIO_BENCH_PREALLOC_READS_DURING_REST") { readsDuringRest = String(cString: text) != "0" }
        let configuration = EngineConfiguration(
            groups: [.init(name: "bench", workers: workers, cpus: groupCPUs(submitter: config.submitterCPU),
                           scheduling: scheduling, inFlight: inFlight)],
            ringCapacity: ring, requestsInFlight: slots, memoryLocking: .none,
            privilegePolicy: .bestEffort, spinBudget: .nanoseconds(spinBudget),
            completionDelivery: .completionRing, tuneMalloc: false,
            // 85 %: spinning plus work stays under the kernel's 95 % real-time
            // throttle on this CPU even at a steady arrival rate.
            realtimeSharePercent: duty, realtimeShareRest: rest, realtimeShareRestSlice: slice,
            submitterReadsDuringRest: readsDuringRest)
        do {
            let engine = try IOEngine(configuration: configuration)
            driven.attach(engine)
            degradations = engine.degradations.map(\.description)
            for line in degradations { fputs("   \(name): degraded: \(line)\n", standardError()) }
            threadsCreated = engine.workerCount
        } catch {
            throw BenchEngineSkip("IOEngine init failed: \(error)")
        }
    }

    @inline(__always)
    func submitRead(offset: Int64, buffer: UnsafeMutableRawPointer, length: Int, tag: UInt64) -> Bool {
        driven.submitRead(fd: fd, offset: offset, buffer: buffer, length: length, tag: tag, placement: placement)
    }

    func reapCompletions(wait: Bool, _ body: (UInt64, Int) -> Void) -> Int {
        driven.reap(wait: wait, body)
    }

    func stop() {
        guard let engine else { return }
        driven.driver.drain(engine)
        if getenv("RTIO_BENCH_WORKER_HISTOGRAMS") != nil, let w = engine.workerSnapshots().first {
            // Where a tail comes from: queue wait (worker late) vs service (the read itself).
            func line(_ label: String, _ buckets: [UInt64]) -> String {
                buckets.enumerated().filter { $0.element > 0 }
                    .map { "<\(WorkerCounters.bucketRange($0.offset).upper)ns:\($0.element)" }.joined(separator: " ")
            }
            fputs("   \(name) queue wait: \(line("q", w.queueWaitHistogram))\n", standardError())
            fputs("   \(name) service:    \(line("s", w.serviceTimeHistogram))\n", standardError())
            fputs("   \(name) parks \(w.parks) wakes \(w.wakes) wake syscalls \(w.wakeSyscalls) demotions \(w.demotions) served here \(driven.driver.servedHere) by submitters \(w.readsBySubmitters)\n", standardError())
        }
        engine.shutdown(.drain)  // joins the worker
        driven.detach()
        fd = FileDescriptor(rawValue: -1)
    }
}
