import CoreMetrics
import Foundation
import MetricsTestKit
@testable import RealtimeIO
import RealtimeIOMetrics
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Fails with -EIO when its context is non-nil, else returns 1.
private let succeedOrFail: CustomBlockingCall = { context in context == nil ? 1 : -Int(EIO) }

@Suite("EngineMetrics")
struct EngineMetricsTests {

    /// Every published value of every worker against `snapshots`.
    static func expectMatches(_ metrics: TestMetrics, _ snapshots: [WorkerSnapshot], stableOnly: Bool = false) throws {
        for s in snapshots {
            let d = [("worker", s.name), ("group", s.group)]
            func total(_ name: String) throws -> Int { Int(try metrics.expectCounter("realtimeio_worker_\(name)", d).totalValue) }
            #expect(try total("completed_total") == s.completed, "\(s.name) completed")
            #expect(try total("errors_total") == s.errors, "\(s.name) errors")
            #expect(try total("cancelled_total") == s.cancelled, "\(s.name) cancelled")
            #expect(try total("demotions_total") == s.demotions, "\(s.name) demotions")
            #expect(try total("busy_nanoseconds_total") == Int(s.busyNanoseconds), "\(s.name) busy")
            #expect(try metrics.expectGauge("realtimeio_worker_queue_depth", d).lastValue == Double(s.queueDepth))
            #expect(try metrics.expectGauge("realtimeio_worker_max_queue_depth", d).lastValue == Double(s.maxQueueDepth))
            #expect(try metrics.expectGauge("realtimeio_worker_in_flight", d).lastValue == Double(s.inFlight))
            if !stableOnly {
                #expect(try total("parks_total") == s.parks, "\(s.name) parks")
                #expect(try total("wakes_total") == s.wakes, "\(s.name) wakes")
                #expect(try total("wake_syscalls_total") == s.wakeSyscalls, "\(s.name) wake syscalls")
            }
            for (name, histogram) in [("queue_wait", s.queueWaitHistogram), ("service_time", s.serviceTimeHistogram)] {
                for (i, count) in histogram.enumerated() {
                    let bucket = d + [("ge_ns", "\(WorkerCounters.bucketRange(i).lower)")]
                    let published = metrics.counters(label: "realtimeio_worker_\(name)_requests_total", dimensions: bucket)
                        .reduce(Int64(0)) { $0 + $1.totalValue }
                    #expect(published == Int64(count), "\(s.name) \(name) bucket \(i)")
                }
            }
        }
    }

    @Test("after each poll every counter, gauge and histogram bucket equals workerSnapshots()")
    func matchesSnapshots() throws {
        let metrics = TestMetrics()
        // Rings as deep as the largest round: placement may send a whole round to one worker.
        let engine = try IOEngine(configuration: testConfiguration(workers: 2, ring: 1024, slots: 1024))
        defer { engine.shutdown() }
        let published = EngineMetrics(engine: engine, factory: metrics)

        // Round 1: successes and failures; the first poll publishes everything counted so far.
        for i in 0..<300 {
            try engine.submit(.custom(succeedOrFail, context: i % 10 == 0 ? UnsafeMutableRawPointer(bitPattern: 1) : nil), tag: UInt64(i))
        }
        #expect(reapAll(engine, count: 300).count == 300)
        let first = published.poll()
        try Self.expectMatches(metrics, first)
        // The engine's own view, taken independently, agrees on everything that cannot move while idle.
        try Self.expectMatches(metrics, engine.workerSnapshots(), stableOnly: true)
        #expect(first.reduce(0) { $0 + $1.errors } == 30)

        // Round 2: a later poll adds only what changed (totals still equal the snapshots).
        for i in 0..<500 { try engine.submit(.custom(succeedOrFail, context: nil), tag: UInt64(i)) }
        #expect(reapAll(engine, count: 500).count == 500)
        let second = published.poll()
        try Self.expectMatches(metrics, second)
        #expect(second.reduce(0) { $0 + $1.completed } == 800)

        // A poll with nothing new publishes no increments.
        let before = metrics.counters.reduce(0) { $0 + $1.values.count }
        let third = published.poll()
        let moved = third.map { $0.parks + $0.wakes + $0.wakeSyscalls } != second.map { $0.parks + $0.wakes + $0.wakeSyscalls }
        if !moved { #expect(metrics.counters.reduce(0) { $0 + $1.values.count } == before) }
        try Self.expectMatches(metrics, third)
    }

    @Test("run(every:) polls until its task is cancelled", .tags(.concurrency))
    func runUntilCancelled() async throws {
        let metrics = TestMetrics()
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        defer { engine.shutdown() }
        let published = EngineMetrics(engine: engine, factory: metrics)
        for i in 0..<10 { try engine.submit(.custom(succeedOrFail, context: nil), tag: UInt64(i)) }
        #expect(reapAll(engine, count: 10).count == 10)
        let task = Task { try await published.run(every: .milliseconds(5)) }
        let d = [("worker", "rtio-t-0"), ("group", "t")]
        var seen = 0
        for _ in 0..<2000 where seen != 10 {
            seen = Int((try? metrics.expectCounter("realtimeio_worker_completed_total", d).totalValue) ?? 0)
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(seen == 10)
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    @Test("the Prometheus example prints the scrape text with every worker's counters")
    func prometheusExample() throws {
        let r = try cRun(builtProduct("rtio-example-prometheus"))
        #expect(!r.timedOut)
        #expect(r.status == 0, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        #expect(r.stdout.contains("# TYPE realtimeio_worker_completed_total counter"), "\(r.stdout)")
        let completed = r.stdout.split(separator: "\n").filter { $0.hasPrefix("realtimeio_worker_completed_total{") }
        #expect(completed.count == 2, "\(completed)")
        #expect(completed.compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +) == 200, "\(completed)")
        #expect(r.stdout.contains("realtimeio_worker_service_time_requests_total{worker=\"rtio-io-"), "\(r.stdout)")
    }
}
