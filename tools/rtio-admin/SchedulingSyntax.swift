import RealtimeIO
import RealtimeIOLinux

/// What `set-priority` was asked for: a whole policy, or only a priority that
/// keeps each thread's current real-time policy (tuna's bare number).
enum SchedulingRequest: Equatable, CustomStringConvertible {
    case policy(SchedulingPolicy)
    case priorityOnly(Int)

    /// Parses the spellings of chrt, tuna and the configuration file:
    ///
    ///     fifo:N  rr:N  other[:NICE]  normal[:NICE]  batch[:NICE]  idle
    ///     SCHED_FIFO:N  SCHED_RR:N  SCHED_OTHER[:NICE]  SCHED_NORMAL  SCHED_BATCH[:NICE]  SCHED_IDLE
    ///     f:N  r:N  o[:NICE]  n[:NICE]  b[:NICE]  i        (tuna's short forms, any case)
    ///     N                                               (keep the real-time policy, set priority N)
    ///
    /// Priorities 1...99, nice values -20...19. SCHED_DEADLINE is shown but not
    /// set here (it needs a runtime/deadline/period reservation: use `chrt -d`).
    init(parsing text: String) throws(AdminError) {
        let expected = "expected fifo:N, rr:N (N in 1...99), other[:NICE], batch[:NICE] (NICE in -20...19), idle, a SCHED_* name, tuna's f:N/r:N/o/b/i, or a bare priority N"
        if let n = Int(text) {
            guard SchedulingPolicy.validPriorities.contains(n) else {
                throw .usage("invalid priority '\(text)': real-time priorities are 1...99")
            }
            self = .priorityOnly(n)
            return
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { $0.lowercased() }
        guard parts.count <= 2, var name = parts.first, !name.isEmpty else {
            throw .usage("invalid scheduling '\(text)': \(expected)")
        }
        if name.hasPrefix("sched_") { name.removeFirst(6) }
        var value: Int? = nil
        if parts.count == 2 {
            guard let v = Int(parts[1]) else { throw .usage("invalid scheduling '\(text)': '\(parts[1])' is not a number; \(expected)") }
            value = v
        }
        func priority() throws(AdminError) -> Int {
            guard let value else { throw .usage("invalid scheduling '\(text)': \(name) needs a priority, e.g. \(name):50 (1...99)") }
            guard SchedulingPolicy.validPriorities.contains(value) else {
                throw .usage("invalid scheduling '\(text)': priority \(value) is outside 1...99")
            }
            return value
        }
        func nice() throws(AdminError) -> Int {
            let n = value ?? 0
            guard SchedulingPolicy.validNiceValues.contains(n) else {
                throw .usage("invalid scheduling '\(text)': nice \(n) is outside -20...19")
            }
            return n
        }
        switch name {
        case "fifo", "f": self = .policy(.fifo(priority: try priority()))
        case "rr", "r": self = .policy(.rr(priority: try priority()))
        case "other", "normal", "o", "n": self = .policy(.other(nice: try nice()))
        case "batch", "b": self = .policy(.batch(nice: try nice()))
        case "idle", "i":
            guard value == nil || value == 0 else { throw .usage("invalid scheduling '\(text)': idle takes no priority or nice value") }
            self = .policy(.idle)
        case "deadline", "d":
            throw .usage("scheduling '\(text)': SCHED_DEADLINE needs a runtime/deadline/period reservation; set it with chrt -d (rtio-admin shows it)")
        default:
            throw .usage("invalid scheduling '\(text)': unknown policy '\(name)'; \(expected)")
        }
    }

    /// The policy for a thread that runs `current` now.
    func resolve(current: SchedulingPolicy?, thread: String) throws(AdminError) -> SchedulingPolicy {
        switch self {
        case .policy(let p): return p
        case .priorityOnly(let n):
            switch current {
            case .fifo?: return .fifo(priority: n)
            case .rr?: return .rr(priority: n)
            default:
                throw .usage("bare priority \(n) keeps a real-time policy, but \(thread) runs \(current.map { "\($0)" } ?? "an unknown policy"); write fifo:\(n) or rr:\(n)")
            }
        }
    }

    var description: String {
        switch self {
        case .policy(let p): return "\(p)"
        case .priorityOnly(let n): return "priority \(n) (policy kept)"
        }
    }
}

/// `ionice`'s classes: `rt:N`/`realtime:N`, `be:N`/`best-effort:N` (N in 0...7), `idle`, and `none`
/// (no I/O priority: the kernel derives it from the nice value).
enum IOPrioritySyntax {
    static func parse(_ text: String) throws(AdminError) -> IOPriority? {
        let parts = text.lowercased().split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let expected = "expected rt:N, be:N (N in 0...7), idle or none (as ionice -c1/-c2/-c3)"
        func level() throws(AdminError) -> Int {
            guard parts.count == 2, let n = Int(parts[1]) else { throw .usage("invalid I/O priority '\(text)': \(parts[0]) needs a level; \(expected)") }
            guard (0...7).contains(n) else { throw .usage("invalid I/O priority '\(text)': level \(n) is outside 0...7") }
            return n
        }
        switch parts[0] {
        case "rt", "realtime", "1": return .realtime(level: try level())
        case "be", "best-effort", "besteffort", "2": return .bestEffort(level: try level())
        case "idle", "3":
            guard parts.count == 1 else { throw .usage("invalid I/O priority '\(text)': idle takes no level") }
            return .idle
        case "none", "0":
            guard parts.count == 1 else { throw .usage("invalid I/O priority '\(text)': none takes no level") }
            return nil
        default: throw .usage("invalid I/O priority '\(text)': \(expected)")
        }
    }
}

/// CPU lists as `taskset` takes them: `0-3,6`, strides `0-7:2`, the kernel's `0-7:1/2`,
/// and hex masks `0x3` (or any hex with `mask: true`, like `taskset` without `-c`).
enum CPUSyntax {
    static func parse(_ text: String, mask: Bool) throws(AdminError) -> CPUList {
        do {
            if mask || text.lowercased().hasPrefix("0x") { return try CPUList.parsingMask(text) }
            return try CPUList(parsing: text)
        } catch {
            throw .usage(error.description)
        }
    }
}
