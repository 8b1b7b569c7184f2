#if canImport(Glibc)
import Glibc
#endif

/// How a thread is scheduled: a real-time class with a priority, or the
/// normal class with a nice value.
///
/// Encoded in JSON as `{"fifo": 40}`, `{"rr": 10}` or `{"other": -5}`.
public enum SchedulingPolicy: Sendable, Hashable, Codable, CustomStringConvertible {
    /// SCHED_FIFO with a static priority in 1...99.
    case fifo(priority: Int)
    /// SCHED_RR with a static priority in 1...99.
    case rr(priority: Int)
    /// SCHED_OTHER with a nice value in -20...19.
    case other(nice: Int)

    public static let validPriorities = 1...99
    public static let validNiceValues = -20...19

    /// The kernel's policy number.
    public var kernelPolicy: Int32 {
        switch self {
        case .fifo: return SCHED_FIFO
        case .rr: return SCHED_RR
        case .other: return SCHED_OTHER
        }
    }

    /// The real-time priority, or 0 for SCHED_OTHER.
    public var realtimePriority: Int {
        switch self {
        case .fifo(let p), .rr(let p): return p
        case .other: return 0
        }
    }

    public var isRealtime: Bool { realtimePriority > 0 }

    /// `fifo:40`, `rr:10`, `other:-5` — the same form `rtio-admin` accepts.
    public var description: String {
        switch self {
        case .fifo(let p): return "fifo:\(p)"
        case .rr(let p): return "rr:\(p)"
        case .other(let n): return "other:\(n)"
        }
    }

    /// Parses `fifo:N`, `rr:N`, `other` or `other:NICE`, checking ranges.
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

    /// Throws if the priority or nice value is out of range.
    public func validate() throws(SchedulingPolicyError) {
        switch self {
        case .fifo(let p), .rr(let p):
            guard Self.validPriorities.contains(p) else { throw .priorityOutOfRange(p) }
        case .other(let n):
            guard Self.validNiceValues.contains(n) else { throw .niceOutOfRange(n) }
        }
    }

    // Compact JSON: {"fifo": 40}
    private enum CodingKeys: String, CodingKey { case fifo, rr, other }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let p = try c.decodeIfPresent(Int.self, forKey: .fifo) {
            self = .fifo(priority: p)
        } else if let p = try c.decodeIfPresent(Int.self, forKey: .rr) {
            self = .rr(priority: p)
        } else if let n = try c.decodeIfPresent(Int.self, forKey: .other) {
            self = .other(nice: n)
        } else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "scheduling must be {\"fifo\": 1...99}, {\"rr\": 1...99} or {\"other\": -20...19}"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .fifo(let p): try c.encode(p, forKey: .fifo)
        case .rr(let p): try c.encode(p, forKey: .rr)
        case .other(let n): try c.encode(n, forKey: .other)
        }
    }
}

/// A scheduling policy that cannot be used, and why.
public enum SchedulingPolicyError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case priorityOutOfRange(Int)
    case niceOutOfRange(Int)

    public var description: String {
        switch self {
        case .malformed(let t):
            return "invalid scheduling policy '\(t)': use fifo:N or rr:N (N in 1...99), or other[:NICE] (NICE in -20...19)"
        case .priorityOutOfRange(let p):
            return "real-time priority \(p) is outside 1...99; pick a priority in 1...99 (e.g. fifo:40)"
        case .niceOutOfRange(let n):
            return "nice value \(n) is outside -20...19; pick a nice value in -20...19"
        }
    }
}
