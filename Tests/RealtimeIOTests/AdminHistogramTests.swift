import Testing

@testable import RealtimeIO

/// The status file's log-linear (HDR-style) latency buckets.
@Suite("Admin: HDR latency histogram")
struct AdminHistogramTests {
    @Test func everyValueFallsInItsBucketAndBucketsAreNarrow() {
        var values: [UInt64] = Array(0...300)
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            values.append((x >> 24) >> (x % 40))  // every magnitude up to 2^40
        }
        for v in values where v < UInt64(1) << 40 {
            let i = WorkerCounters.bucket(v)
            let (lower, upper) = WorkerCounters.bucketRange(i)
            #expect(lower <= v && v < upper, "value \(v) in bucket \(i) = [\(lower), \(upper))")
            // Width at most 1/16 of the lower bound: a reported midpoint is within 1/32.
            #expect(upper - lower == 1 || Double(upper - lower) <= Double(lower) / 16, "bucket \(i) [\(lower), \(upper))")
        }
        // Adjacent buckets tile the range without gap or overlap.
        for i in 1..<WorkerCounters.histogramBuckets {
            #expect(WorkerCounters.bucketRange(i).lower == WorkerCounters.bucketRange(i - 1).upper)
        }
        #expect(WorkerCounters.bucket(.max) == WorkerCounters.histogramBuckets - 1)
        #expect(WorkerCounters.byteCount % 128 == 0)
        #expect(WorkerCounters.byteCount >= (24 + 2 * WorkerCounters.histogramBuckets) * 8)
    }

    /// A p50 of 8.2 µs used to print as "16.4 µs" (a power-of-two bucket's upper bound).
    @Test func percentilesHaveAtMostSixPercentError() {
        for true_ in [8_200, 1_000, 47, 123_456, 9_999_999] as [UInt64] {
            var buckets = [UInt64](repeating: 0, count: WorkerCounters.histogramBuckets)
            buckets[WorkerCounters.bucket(true_)] += 1000
            buckets[WorkerCounters.bucket(true_ * 3)] += 5  // a small tail
            let p50 = try! #require(WorkerCounters.quantile(0.5, of: buckets))
            let error = abs(Double(p50) - Double(true_)) / Double(true_)
            #expect(error <= 0.06, "p50 \(p50) for \(true_): \(error * 100) %")
            let p999 = try! #require(WorkerCounters.quantile(0.999, of: buckets))
            #expect(abs(Double(p999) - Double(true_ * 3)) / Double(true_ * 3) <= 0.06)
        }
        #expect(WorkerCounters.quantile(0.5, of: [UInt64](repeating: 0, count: WorkerCounters.histogramBuckets)) == nil)
    }

    @Test func recordUpdatesTheMatchingBuckets() {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: WorkerCounters.byteCount, alignment: 128)
        defer { memory.deallocate() }
        let counters = WorkerCounters(initializing: memory)
        counters.record(queueWait: 5, service: 8_200)
        counters.record(queueWait: 5, service: 8_300)
        #expect(counters.queueWaitHistogram[5] == 2)
        #expect(counters.serviceTimeHistogram[WorkerCounters.bucket(8_200)] >= 1)
        #expect(counters.serviceTimeHistogram.reduce(0, +) == 2)
        #expect(counters[.completed] == 0)  // histograms do not spill into the scalar words
    }
}
