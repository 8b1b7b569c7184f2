#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How a thread is scheduled: the kernel's scheduling class and its parameter.
///
/// Engine workers are started with ``fifo(priority:)``, ``rr(priority:)`` or
/// ``other(nice:)`` — the policies ``validate()`` accepts. The other cases
/// describe what the kernel can report for a thread that someone else changed
/// (`chrt -b`, `chrt -i`, `chrt -d`): reading a thread's scheduling back never
/// misreports such a thread as `other`.
///
/// Encoded in JSON as `{"fifo": 40}`, `{"rr": 10}`, `{"other": -5}`,
/// `{"batch": 0}`, `{"idle": 0}` or
/// `{"deadline": {"runtimeNanoseconds": …, "deadlineNanoseconds": …, "periodNanoseconds": …}}`.
public enum SchedulingPolicy: Sendable, Hashable, Codable, CustomStringConvertible {
    /// SCHED_FIFO with a static priority in 1...99.
    case fifo(priority: Int)
    /// SCHED_RR with a static priority in 1...99.
    case rr(priority: Int)
    /// SCHED_OTHER (SCHED_NORMAL) with a nice value in -20...19.
    case other(nice: Int)
    /// SCHED_BATCH: SCHED_OTHER for CPU-bound work, with a nice value. Not for engine workers.
    case batch(nice: Int)
    /// SCHED_IDLE: runs only when nothing else wants the CPU. Not for engine workers.
    case idle
    /// SCHED_DEADLINE with its reservation: `runtime` of CPU time within each
    /// `deadline`, every `period` (nanosecond resolution). Not for engine workers.
    case deadline(runtime: Duration, deadline: Duration, period: Duration)

    /// Real-time priorities of SCHED_FIFO and SCHED_RR.
    public static let validPriorities = 1...99
    /// Nice values of SCHED_OTHER and SCHED_BATCH.
    public static let validNiceValues = -20...19

    /// The kernel's policy number (`SCHED_FIFO`, `SCHED_RR`, …).
    public var kernelPolicy: Int32 {
        switch self {
        case .fifo: return SCHED_FIFO
        case .rr: return SCHED_RR
        case .other: return SCHED_OTHER
        case .batch: return Self.schedBatch
        case .idle: return Self.schedIdle
        case .deadline: return Self.schedDeadline
        }
    }

    /// The real-time priority, or 0 for every non-real-time policy.
    public var realtimePriority: Int {
        switch self {
        case .fifo(let p), .rr(let p): return p
        case .other, .batch, .idle, .deadline: return 0
        }
    }

    /// The nice value of SCHED_OTHER and SCHED_BATCH; `nil` for the others.
    public var nice: Int? {
        switch self {
        case .other(let n), .batch(let n): return n
        case .fifo, .rr, .idle, .deadline: return nil
        }
    }

    /// Whether this is SCHED_FIFO or SCHED_RR (SCHED_DEADLINE is not a priority policy).
    public var isRealtime: Bool { realtimePriority > 0 }

    /// `fifo:40`, `rr:10`, `other:-5` — the form `rtio-admin` accepts — and
    /// `batch:0`, `idle`, `deadline:RUNTIME/DEADLINE/PERIOD` (nanoseconds, as
    /// `chrt` prints them) for the policies only ever read back.
    public var description: String {
        switch self {
        case .fifo(let p): return "fifo:\(p)"
        case .rr(let p): return "rr:\(p)"
        case .other(let n): return "other:\(n)"
        case .batch(let n): return "batch:\(n)"
        case .idle: return "idle"
        case .deadline(let runtime, let deadline, let period):
            return "deadline:\(runtime.nanoseconds)/\(deadline.nanoseconds)/\(period.nanoseconds)"
        }
    }

    /// Parses `fifo:N`, `rr:N`, `other` or `other:NICE`, checking ranges.
    ///
    /// Only the policies an engine worker can be started with are accepted.
    public init(parsing text: String) throws(SchedulingPolicyError) {
        let parts = text.lowercased().split(separator: ":", omittingEmptySubsequences: false)
        guard let kind = parts.first, parts.count <= 2 else { throw .malformed(text) }
        let number: Int?
        if parts.count == 2 {
            guard let n = Int(parts[1]) else { throw .malformed(text) }
            number = n
        } else {
            number = nil
        }
        switch kind {
        case "fifo", "rr":
            guard let p = number else { throw .malformed(text) }
            self = kind == "fifo" ? .fifo(priority: p) : .rr(priority: p)
        case "other", "normal":
            self = .other(nice: number ?? 0)
        default:
            throw .malformed(text)
        }
        try validate()
    }

    /// Throws unless this policy can be requested for an engine worker: SCHED_FIFO
    /// or SCHED_RR with a priority in 1...99, or SCHED_OTHER with a nice value in
    /// -20...19. SCHED_BATCH, SCHED_IDLE and SCHED_DEADLINE are refused with
    /// ``SchedulingPolicyError/notForWorkers(_:)``.
    public func validate() throws(SchedulingPolicyError) {
        switch self {
        case .fifo(let p), .rr(let p):
            guard Self.validPriorities.contains(p) else { throw .priorityOutOfRange(p) }
        case .other(let n):
            guard Self.validNiceValues.contains(n) else { throw .niceOutOfRange(n) }
        case .batch, .idle, .deadline:
            throw .notForWorkers(self)
        }
    }

    // Glibc exports these only with _GNU_SOURCE; the values are the kernel ABI.
    package static let schedBatch: Int32 = 3
    package static let schedIdle: Int32 = 5
    package static let schedDeadline: Int32 = 6

    // Compact JSON: {"fifo": 40}
    private enum CodingKeys: String, CodingKey { case fifo, rr, other, batch, idle, deadline }
    private enum DeadlineKeys: String, CodingKey {
        case runtime = "runtimeNanoseconds", deadline = "deadlineNanoseconds", period = "periodNanoseconds"
    }

    /// Decodes the one-key object form; see the type's description.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let p = try c.decodeIfPresent(Int.self, forKey: .fifo) {
            self = .fifo(priority: p)
        } else if let p = try c.decodeIfPresent(Int.self, forKey: .rr) {
            self = .rr(priority: p)
        } else if let n = try c.decodeIfPresent(Int.self, forKey: .other) {
            self = .other(nice: n)
        } else if let n = try c.decodeIfPresent(Int.self, forKey: .batch) {
            self = .batch(nice: n)
        } else if c.contains(.idle) {
            self = .idle
        } else if c.contains(.deadline) {
            let d = try c.nestedContainer(keyedBy: DeadlineKeys.self, forKey: .deadline)
            self = .deadline(
                runtime: .nanoseconds(try d.decode(Int64.self, forKey: .runtime)),
                deadline: .nanoseconds(try d.decode(Int64.self, forKey: .deadline)),
                period: .nanoseconds(try d.decode(Int64.self, forKey: .period)))
        } else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "scheduling must be {\"fifo\": 1...99}, {\"rr\": 1...99} or {\"other\": -20...19}"))
        }
    }

    /// Encodes the one-key object form; see the type's description.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .fifo(let p): try c.encode(p, forKey: .fifo)
        case .rr(let p): try c.encode(p, forKey: .rr)
        case .other(let n): try c.encode(n, forKey: .other)
        case .batch(let n): try c.encode(n, forKey: .batch)
        case .idle: try c.encode(0, forKey: .idle)
        case .deadline(let runtime, let deadline, let period):
            var d = c.nestedContainer(keyedBy: DeadlineKeys.self, forKey: .deadline)
            try d.encode(runtime.nanoseconds, forKey: .runtime)
            try d.encode(deadline.nanoseconds, forKey: .deadline)
            try d.encode(period.nanoseconds, forKey: .period)
        }
    }
}

extension Duration {
    /// The duration in whole nanoseconds (truncated; saturating at `Int64` bounds).
    package var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflow2 ? (seconds < 0 ? .min : .max) : sum
    }
}

/// A scheduling policy that cannot be used, and why.
public enum SchedulingPolicyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text is not `fifo:N`, `rr:N` or `other[:NICE]`.
    case malformed(String)
    /// A SCHED_FIFO/SCHED_RR priority outside 1...99.
    case priorityOutOfRange(Int)
    /// A nice value outside -20...19.
    case niceOutOfRange(Int)
    /// SCHED_BATCH, SCHED_IDLE or SCHED_DEADLINE requested for an engine worker.
    case notForWorkers(SchedulingPolicy)

    public var description: String {
        switch self {
        case .malformed(let t):
            return "invalid scheduling policy '\(t)': use fifo:N or rr:N (N in 1...99), or other[:NICE] (NICE in -20...19)"
        case .priorityOutOfRange(let p):
            return "real-time priority \(p) is outside 1...99; pick a priority in 1...99 (e.g. fifo:40)"
        case .niceOutOfRange(let n):
            return "nice value \(n) is outside -20...19; pick a nice value in -20...19"
        case .notForWorkers(let policy):
            return "scheduling \(policy) cannot be requested for engine workers;"
                + " use fifo:N or rr:N (N in 1...99), or other[:NICE] (NICE in -20...19)"
        }
    }
}
