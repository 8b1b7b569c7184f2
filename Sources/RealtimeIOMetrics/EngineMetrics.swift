import CoreMetrics
import RealtimeIO
import Synchronization

/// Publishes an ``RealtimeIO/IOEngine``'s per-worker counters and latency
/// histograms through swift-metrics.
///
/// ## Synopsis
/// ```swift
/// let metrics = EngineMetrics(engine: engine)          // MetricsSystem's factory
/// Task { try await metrics.run(every: .seconds(5)) }   // or call metrics.poll() yourself
/// ```
///
/// ## Description
/// Nothing is added to the engine's I/O path: workers keep counting in their
/// status counters as always (the memory `rtio-admin` reads), and each
/// ``poll()`` reads them through ``RealtimeIO/IOEngine/workerSnapshots()`` on
/// the polling thread and forwards them. A poll allocates and reads `/proc`
/// (as a snapshot does); run it on an ordinary thread or task, not a
/// real-time one.
///
/// Every metric carries the dimensions `worker` (`rtio-<group>-<n>`) and `group`.
/// With the default prefix `realtimeio`:
///
/// | label | kind | from ``RealtimeIO/WorkerSnapshot`` |
/// |---|---|---|
/// | `realtimeio_worker_completed_total` | counter | `completed` |
/// | `realtimeio_worker_errors_total` | counter | `errors` |
/// | `realtimeio_worker_cancelled_total` | counter | `cancelled` |
/// | `realtimeio_worker_parks_total` | counter | `parks` |
/// | `realtimeio_worker_wakes_total` | counter | `wakes` |
/// | `realtimeio_worker_wake_syscalls_total` | counter | `wakeSyscalls` |
/// | `realtimeio_worker_demotions_total` | counter | `demotions` |
/// | `realtimeio_worker_submitter_reads_total` | counter | `readsBySubmitters` |
/// | `realtimeio_worker_busy_nanoseconds_total` | counter | `busyNanoseconds` |
/// | `realtimeio_worker_queue_depth` | gauge | `queueDepth` |
/// | `realtimeio_worker_max_queue_depth` | gauge | `maxQueueDepth` |
/// | `realtimeio_worker_in_flight` | gauge | `inFlight` |
/// | `realtimeio_worker_queue_wait_requests_total` | counter per bucket | `queueWaitHistogram` |
/// | `realtimeio_worker_service_time_requests_total` | counter per bucket | `serviceTimeHistogram` |
///
/// The engine's histograms have log-linear buckets (16 per power of two); each
/// non-empty bucket is a counter with the extra dimension `ge_ns`, the bucket's
/// lower bound: the requests that waited (or ran) at least that many
/// nanoseconds and less than the next bucket's bound. Counters are
/// incremented by what the engine counted since the previous poll, so a
/// counter's total equals the snapshot's value.
///
/// ## Thread safety
/// `poll` may be called from any thread; concurrent polls are serialized.
public final class EngineMetrics: Sendable {
    /// The engine polled.
    public let engine: IOEngine
    /// The prefix of every label (default `realtimeio`).
    public let prefix: String

    private let factory: any MetricsFactory
    /// `AnnotatedMutex`: the standard `Mutex`, its critical sections announced to
    /// ThreadSanitizer (which cannot see the futex it locks with).
    private let state: AnnotatedMutex<State>

    /// One worker's metrics and the values published last.
    private struct WorkerMetrics {
        var dimensions: [(String, String)]
        var counters: [(metric: Counter, field: @Sendable (WorkerSnapshot) -> Int)]
        var busy: Counter
        var queueDepth: Gauge
        var maxQueueDepth: Gauge
        var inFlight: Gauge
        var queueWait: [Counter?]
        var serviceTime: [Counter?]
        /// What each counter stood at when last published: counters first, then busy.
        var published: [Int]
        var publishedBusy: UInt64 = 0
        var publishedQueueWait: [UInt64] = []
        var publishedServiceTime: [UInt64] = []
    }

    private struct State {
        var workers: [WorkerMetrics]
    }

    private static let counterFields: [(String, @Sendable (WorkerSnapshot) -> Int)] = [
        ("completed_total", { $0.completed }), ("errors_total", { $0.errors }),
        ("cancelled_total", { $0.cancelled }), ("parks_total", { $0.parks }), ("wakes_total", { $0.wakes }),
        ("wake_syscalls_total", { $0.wakeSyscalls }), ("demotions_total", { $0.demotions }),
        ("submitter_reads_total", { $0.readsBySubmitters }),
    ]

    /// Creates the metrics of every worker of `engine` (nothing is published until ``poll()``).
    ///
    /// - Parameters:
    ///   - engine: the engine to poll.
    ///   - prefix: the first word of every label.
    ///   - factory: where the metrics go; by default the one `MetricsSystem.bootstrap` installed.
    public init(engine: IOEngine, prefix: String = "realtimeio", factory: any MetricsFactory = MetricsSystem.factory) {
        self.engine = engine
        self.prefix = prefix
        self.factory = factory
        let workers = engine.workerSnapshots().map { snapshot -> WorkerMetrics in
            let dimensions = [("worker", snapshot.name), ("group", snapshot.group)]
            func label(_ name: String) -> String { "\(prefix)_worker_\(name)" }
            return WorkerMetrics(
                dimensions: dimensions,
                counters: Self.counterFields.map { (Counter(label: label($0.0), dimensions: dimensions, factory: factory), $0.1) },
                busy: Counter(label: label("busy_nanoseconds_total"), dimensions: dimensions, factory: factory),
                queueDepth: Gauge(label: label("queue_depth"), dimensions: dimensions, factory: factory),
                maxQueueDepth: Gauge(label: label("max_queue_depth"), dimensions: dimensions, factory: factory),
                inFlight: Gauge(label: label("in_flight"), dimensions: dimensions, factory: factory),
                queueWait: Array(repeating: nil, count: snapshot.queueWaitHistogram.count),
                serviceTime: Array(repeating: nil, count: snapshot.serviceTimeHistogram.count),
                published: Array(repeating: 0, count: Self.counterFields.count),
                publishedQueueWait: Array(repeating: 0, count: snapshot.queueWaitHistogram.count),
                publishedServiceTime: Array(repeating: 0, count: snapshot.serviceTimeHistogram.count))
        }
        state = AnnotatedMutex(State(workers: workers))
    }

    /// Reads every worker's counters once and publishes what changed since the
    /// previous poll. Returns the snapshots it published.
    @discardableResult
    public func poll() -> [WorkerSnapshot] {
        let snapshots = engine.workerSnapshots()
        state.withLock { state in
            for snapshot in snapshots where snapshot.index < state.workers.count {
                publish(snapshot, into: &state.workers[snapshot.index])
            }
        }
        return snapshots
    }

    /// Polls every `interval` until the task is cancelled.
    /// - Throws: `CancellationError` when the task is cancelled.
    public func run(every interval: Duration) async throws {
        while true {
            poll()
            try await Task.sleep(for: interval)
        }
    }

    private func publish(_ snapshot: WorkerSnapshot, into worker: inout WorkerMetrics) {
        for (i, entry) in worker.counters.enumerated() {
            let value = entry.field(snapshot)
            if value > worker.published[i] { entry.metric.increment(by: value - worker.published[i]) }
            worker.published[i] = max(value, worker.published[i])
        }
        if snapshot.busyNanoseconds > worker.publishedBusy {
            worker.busy.increment(by: Int64(clamping: snapshot.busyNanoseconds - worker.publishedBusy))
            worker.publishedBusy = snapshot.busyNanoseconds
        }
        worker.queueDepth.record(snapshot.queueDepth)
        worker.maxQueueDepth.record(snapshot.maxQueueDepth)
        worker.inFlight.record(snapshot.inFlight)
        publishHistogram(snapshot.queueWaitHistogram, name: "queue_wait_requests_total", dimensions: worker.dimensions,
                         counters: &worker.queueWait, published: &worker.publishedQueueWait)
        publishHistogram(snapshot.serviceTimeHistogram, name: "service_time_requests_total", dimensions: worker.dimensions,
                         counters: &worker.serviceTime, published: &worker.publishedServiceTime)
    }

    /// A bucket's counter is created the first time the bucket is non-empty, so an
    /// engine whose requests all take microseconds exports a handful of series, not hundreds.
    private func publishHistogram(
        _ buckets: [UInt64], name: String, dimensions: [(String, String)],
        counters: inout [Counter?], published: inout [UInt64]
    ) {
        for (i, count) in buckets.enumerated() where i < counters.count && count > published[i] {
            let counter = counters[i] ?? {
                let lowerBound = "\(WorkerCounters.bucketRange(i).lower)"
                let created = Counter(
                    label: "\(prefix)_worker_\(name)", dimensions: dimensions + [("ge_ns", lowerBound)], factory: factory)
                counters[i] = created
                return created
            }()
            counter.increment(by: Int64(clamping: count - published[i]))
            published[i] = count
        }
    }
}
