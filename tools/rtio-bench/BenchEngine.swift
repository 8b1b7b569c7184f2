// The engine protocol every rtio-bench contender implements, and the engine registry.
//
// HOW TO ADD AN ENGINE (for the lead: prealloc-spin, prealloc-park, ondemand, prepatch)
// -------------------------------------------------------------------------------------
// 1. Write a `final class FooEngine: BenchEngine` (in `PreallocEngines.swift`).
// 2. Return it from `preallocBenchEngines()` (same file; delete `PreallocEnginesPlaceholder.swift`).
//    The registry below (`allEngines`) already calls that function: nothing else to edit.
// 3. Name it exactly `prealloc-spin` to make it the reference of the "ratio" column.
//
// Contract (the harness relies on all of it):
// * `init` must be cheap: no threads, no big allocations. The registry builds every engine each
//   time it is asked (the burst scenario asks once per repetition to get *fresh* engines) and
//   throws away the ones not selected.
// * `start`, `submitRead`, `reapCompletions` and `stop` are all called from ONE thread: the
//   submitter pthread (pinned to CPU 0 in latency/throughput/interference, CPU 1 in burst). An
//   engine may therefore capture "the submitter" in `start` (thread id, ring ownership).
//   `start` runs BEFORE the submitter pins itself (its mask is still all CPUs), so threads created
//   in `start` inherit an unrestricted mask; threads created later (e.g. lazily inside
//   `submitRead`) inherit the submitter's single-CPU pin. `config.submitterCPU` says where the
//   submitter will be pinned; an engine that wants its workers elsewhere must pin them itself.
// * `submitRead` is the hot path. It must not block waiting for the read (except the `sync`
//   engine, which is the floor by design) and should not allocate. Return `false` when the
//   engine cannot take the request right now (queue full); the harness then reaps and retries.
//   The harness never has more than `config.queueDepth` reads in flight.
// * `reapCompletions(wait:body:)` calls `body(tag, result)` for every completion available now
//   and returns how many it delivered. `result` is the byte count read or `-errno`. With
//   `wait: true` it must deliver at least one completion before returning (the harness only
//   passes `wait: true` while at least one read is in flight). Spinning first and then parking
//   is allowed and is the engine's business.
// * `stop` must release everything and JOIN every thread the engine created, so that a fresh
//   engine of the next burst repetition really starts cold.
// * `threadsCreated` is the engine's own claim. The harness independently measures threads
//   created by diffing /proc/self/task (that catches io_uring `iou-wrk` and glibc AIO threads),
//   and reports the measured figure.
// * `workerThreadIDs` (optional, may be empty) lists the Linux tids of the engine's workers; the
//   burst scenario reports their `Cpus_allowed_list`. When empty, the harness uses the tasks that
//   appeared in /proc/self/task since `start`.
// * `skipReason` non-nil means "cannot run on this machine"; the harness prints it and puts the
//   exact string in the JSON `skipped` field. It may be set in `init` or by a throwing `start`
//   (throw `BenchEngineSkip(reason)`).
//
// Buffers passed to `submitRead` are 4 KiB aligned, pre-faulted, and stay valid and untouched by
// the harness until that tag's completion has been delivered. Tags are small integers (slot
// indices < queueDepth) but engines must treat them as opaque.

import SystemPackage
import CRealtimeIOShims

/// Per-run configuration handed to `BenchEngine.start`.
struct BenchEngineConfig: Sendable {
    /// Maximum reads the harness will keep in flight (1 for latency-at-low-rate, 8/32 in
    /// throughput, 64 in burst; latency mode uses up to `queueDepth` when reads back up).
    var queueDepth: Int
    /// CPU the submitter thread is pinned to.
    var submitterCPU: Int32
    /// Number of online CPUs (2 on the reference VM).
    var cpuCount: Int
    /// Size of every read (4096).
    var readSize: Int
}

/// Throw from `start` (or set `skipReason`) when the engine cannot run here.
struct BenchEngineSkip: Error, CustomStringConvertible {
    var reason: String
    init(_ reason: String) { self.reason = reason }
    var description: String { reason }
}

protocol BenchEngine: AnyObject {
    /// Stable identifier used by `--engines` and in the output ("sync", "io_uring", "prealloc-spin"...).
    var name: String { get }
    /// nil when runnable; otherwise the exact reason it is skipped.
    var skipReason: String? { get }
    /// Sets up the engine for reads of `file` (opened O_RDONLY by the harness, owned by it).
    /// Called on the submitter thread.
    func start(file: FileDescriptor, config: BenchEngineConfig) throws
    /// Starts one read of `length` bytes at `offset` into `buffer`. `false` = busy/full, retry later.
    func submitRead(offset: Int64, buffer: UnsafeMutableRawPointer, length: Int, tag: UInt64) -> Bool
    /// Delivers completed reads as `(tag, result)`; `wait: true` blocks until at least one.
    func reapCompletions(wait: Bool, _ body: (_ tag: UInt64, _ result: Int) -> Void) -> Int
    /// Releases everything and joins all threads the engine created. Called on the submitter thread.
    func stop()
    /// Threads the engine says it created (the harness also measures this from /proc/self/task).
    var threadsCreated: Int { get }
    /// Linux tids of the engine's worker threads, if it knows them (may be empty).
    var workerThreadIDs: [Int32] { get }
}

/// The engine registry: fresh, un-started instances of every engine, in display order.
/// Baselines first, then the product's engines.
func allEngines() -> [any BenchEngine] {
    var engines: [any BenchEngine] = [
        SyncEngine(),
        GlibcAIOEngine(),
        NIOPoolEngine(),
        IOUringEngine(),
        LiburingEngine(mode: .async),
        LiburingEngine(mode: .sqpoll),
        HandoffFloorEngine(),  // the yardstick: the least any hand-off costs here
    ]
    // ---- LEAD: the product's engines are plugged in here. ------------------------------------
    // `preallocBenchEngines()` lives in PreallocEngines.swift (until then, the placeholder in
    // PreallocEnginesPlaceholder.swift returns []). Expected names: prealloc-spin, prealloc-park,
    // ondemand, prepatch. "prealloc-spin" becomes the ratio reference automatically.
    engines.append(contentsOf: preallocBenchEngines())
    engines.append(contentsOf: onDemandBenchEngines())  // OnDemandEngines.swift: ondemand, prepatch
    // -------------------------------------------------------------------------------------------
    return engines
}

/// The names known to the registry (for `--help` and validation).
func allEngineNames() -> [String] { allEngines().map(\.name) }

/// A fresh instance of the engine called `name`, or nil.
func makeEngine(named name: String) -> (any BenchEngine)? {
    allEngines().first { $0.name == name }
}
