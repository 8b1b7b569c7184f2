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
        /// Requests of this worker that hosts ran themselves (reads during its
        /// rests, ``IOEngine/serveHere(_:)``): the reaper's count, copied by the
        /// worker after each rest, before each park and every 10 ms (so it lags
        /// until those are reaped, and by up to 10 ms).
        case readsBySubmitters
        /// Requests in the worker's own io_uring now, and the most at once
        /// (``EngineConfiguration/WorkerGroup/inFlight``; 0 without a ring).
        case inFlight, maxInFlight
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

    /// Sub-buckets per power of two (HDR-style log-linear histogram): values
    /// below `subBuckets` have a bucket each; above, each octave [2^e, 2^(e+1))
    /// is cut into `subBuckets` equal sub-buckets, so a bucket's width is at most
    /// 1/16 = 6.25 % of its lower bound (≤ 3.2 % from its midpoint).
    package static let subBuckets = 16
    @usableFromInline static let subBucketShift = 4
    /// Octaves above the linear part: values up to 2^40 ns (18 min); larger ones land in the last bucket.
    @usableFromInline static let octaves = 36
    /// Buckets per histogram: 16 linear + 36 octaves × 16 sub-buckets.
    package static let histogramBuckets = 16 + 36 * 16
    @usableFromInline static let scalarWords = 24
    /// 24 scalar words + two histograms, rounded up to 128 bytes.
    package static let byteCount = 9_728

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

    /// The bucket of `nanoseconds`: a leading-zero count, a shift and an add —
    /// no branch on the value beyond the linear/logarithmic split, no table.
    @inlinable package static func bucket(_ nanoseconds: UInt64) -> Int {
        if nanoseconds < UInt64(subBuckets) { return Int(nanoseconds) }
        let exponent = 63 - nanoseconds.leadingZeroBitCount  // ≥ 4
        let octave = exponent - subBucketShift                 // ≥ 0
        guard octave < octaves else { return histogramBuckets - 1 }
        let sub = Int(truncatingIfNeeded: nanoseconds >> UInt64(octave)) & (subBuckets - 1)
        return subBuckets + octave * subBuckets + sub
    }

    /// The values bucket `index` counts: `[lower, upper)` in nanoseconds.
    package static func bucketRange(_ index: Int) -> (lower: UInt64, upper: UInt64) {
        if index < subBuckets { return (UInt64(index), UInt64(index + 1)) }
        let octave = (index - subBuckets) / subBuckets
        let sub = UInt64((index - subBuckets) % subBuckets)
        let width = UInt64(1) << UInt64(octave)
        let lower = (UInt64(subBuckets) + sub) * width
        return (lower, lower + width)
    }

    /// Worker only: records one queue wait and one service time (two relaxed
    /// load/store pairs on the worker's own lines; no syscall, no RMW).
    @inlinable func record(queueWait: UInt64, service: UInt64) {
        let q = words + Self.scalarWords + Self.bucket(queueWait)
        q.pointee.store(q.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        let s = words + Self.scalarWords + Self.histogramBuckets + Self.bucket(service)
        s.pointee.store(s.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    package var state: State { State(rawValue: self[.state]) ?? .starting }

    /// Snapshot of the queue-wait histogram (``bucketRange(_:)`` gives each bucket's values).
    package var queueWaitHistogram: [UInt64] {
        (0..<Self.histogramBuckets).map { words[Self.scalarWords + $0].load(ordering: .relaxed) }
    }

    /// Snapshot of the service-time histogram.
    package var serviceTimeHistogram: [UInt64] {
        (0..<Self.histogramBuckets).map { words[Self.scalarWords + Self.histogramBuckets + $0].load(ordering: .relaxed) }
    }

    /// The `quantile` (0...1) of a histogram of this layout: the midpoint of the
    /// bucket holding that rank (relative error ≤ 1/32 above 16 ns; exact below).
    /// nil for an empty histogram.
    package static func quantile(_ quantile: Double, of buckets: [UInt64]) -> UInt64? {
        let total = buckets.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = max(1, UInt64((Double(total) * quantile).rounded(.up)))
        var seen: UInt64 = 0
        for (i, n) in buckets.enumerated() {
            seen += n
            if seen >= rank {
                let (lower, upper) = bucketRange(i)
                return upper - lower == 1 ? lower : lower + (upper - lower) / 2
            }
        }
        return bucketRange(buckets.count - 1).lower
    }
}
