import Synchronization

/// A worker's live statistics: a fixed 1 KiB block of 64-bit atomics that the
/// worker updates without locks or allocation, and any thread (or, through a
/// shared mapping, another process) reads.
///
/// ## Invariants
/// - Single writer: only the worker thread stores into its block (relaxed
///   `store(load + n)`, no read-modify-write), so readers see each field's
///   values in order but fields are not mutually consistent.
/// - The block is ``byteCount`` bytes at a 128-byte boundary in memory owned
///   by the engine (or its status file); the view lives no longer than that.
/// - The layout (``Field`` raw values, then ``histogramBuckets`` queue-wait
///   buckets, then as many service-time buckets) is part of the status-file
///   format: append fields, never reorder.
package struct WorkerCounters: @unchecked Sendable {
    /// Scalar fields, by word index.
    package enum Field: Int, CaseIterable, Sendable {
        case state = 0, tid, firstCPU, lastCPU
        case completed, errors, cancelled, maxQueueDepth, queueDepth
        case busyNanoseconds, parks, wakes, submittedByOverflow
        /// Duty-cycle rests spent demoted to SCHED_OTHER, and restores the kernel refused.
        case demotions, restoreFailures
    }

    /// What the worker is doing now.
    package enum State: UInt64, Sendable, CustomStringConvertible {
        case starting = 0, spinning, parked, busy, exited
        package var description: String {
            switch self {
            case .starting: return "starting"
            case .spinning: return "spinning"
            case .parked: return "parked"
            case .busy: return "busy"
            case .exited: return "exited"
            }
        }
    }

    /// Log2 buckets per histogram: bucket i counts values in [2^i, 2^(i+1)) ns (bucket 0 also counts 0).
    package static let histogramBuckets = 40
    @usableFromInline static let scalarWords = 24
    package static let byteCount = 1024

    @usableFromInline let words: UnsafeMutablePointer<Atomic<UInt64>>

    /// Binds and zeroes a block at `memory` (``byteCount`` bytes, 8-aligned).
    init(initializing memory: UnsafeMutableRawPointer) {
        let count = Self.byteCount / 8
        words = memory.bindMemory(to: Atomic<UInt64>.self, capacity: count)
        for i in 0..<count { (words + i).initialize(to: Atomic(0)) }
    }

    /// A read-only view of a block that someone else initialised (a mapped status file).
    package init(viewing memory: UnsafeMutableRawPointer) {
        words = memory.assumingMemoryBound(to: Atomic<UInt64>.self)
    }

    @inlinable package subscript(field: Field) -> UInt64 {
        words[field.rawValue].load(ordering: .relaxed)
    }

    /// Worker only.
    @inlinable func set(_ field: Field, _ value: UInt64) {
        words[field.rawValue].store(value, ordering: .relaxed)
    }

    /// Worker only.
    @inlinable func add(_ field: Field, _ value: UInt64) {
        let w = words + field.rawValue
        w.pointee.store(w.pointee.load(ordering: .relaxed) &+ value, ordering: .relaxed)
    }

    @inlinable static func bucket(_ nanoseconds: UInt64) -> Int {
        nanoseconds == 0 ? 0 : min(histogramBuckets - 1, 63 - nanoseconds.leadingZeroBitCount)
    }

    /// Worker only: records one queue wait and one service time.
    @inlinable func record(queueWait: UInt64, service: UInt64) {
        let q = words + Self.scalarWords + Self.bucket(queueWait)
        q.pointee.store(q.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        let s = words + Self.scalarWords + Self.histogramBuckets + Self.bucket(service)
        s.pointee.store(s.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    package var state: State { State(rawValue: self[.state]) ?? .starting }

    /// Snapshot of the queue-wait histogram (bucket i: [2^i, 2^(i+1)) ns).
    package var queueWaitHistogram: [UInt64] {
        (0..<Self.histogramBuckets).map { words[Self.scalarWords + $0].load(ordering: .relaxed) }
    }

    /// Snapshot of the service-time histogram.
    package var serviceTimeHistogram: [UInt64] {
        (0..<Self.histogramBuckets).map { words[Self.scalarWords + Self.histogramBuckets + $0].load(ordering: .relaxed) }
    }

    /// The upper bound (ns) of the bucket holding the `quantile` (0...1) of a log2 histogram.
    package static func quantile(_ quantile: Double, of buckets: [UInt64]) -> UInt64? {
        let total = buckets.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = UInt64((Double(total) * quantile).rounded(.up))
        var seen: UInt64 = 0
        for (i, n) in buckets.enumerated() {
            seen += n
            if seen >= max(1, rank) { return UInt64(1) << UInt64(i + 1) }
        }
        return UInt64(1) << UInt64(buckets.count)
    }
}
