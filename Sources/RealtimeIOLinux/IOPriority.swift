import CRealtimeIOShims
import SystemPackage

/// A thread's I/O priority (`ioprio_set(2)`, what `ionice` sets): the class
/// and, for the real-time and best-effort classes, a level 0 (highest) ... 7.
///
/// The I/O schedulers that honour it (BFQ, and mq-deadline for the class)
/// serve a real-time thread's requests before best-effort ones and idle ones
/// only when the disk is otherwise idle; page-cache hits never wait either way.
///
/// Encoded in JSON as `{"realtime": 0...7}`, `{"bestEffort": 0...7}` or `{"idle": 0}`.
public enum IOPriority: Sendable, Hashable, Codable, CustomStringConvertible {
    /// IOPRIO_CLASS_RT: needs CAP_SYS_NICE (or CAP_SYS_ADMIN).
    case realtime(level: Int)
    /// IOPRIO_CLASS_BE: any thread may set it.
    case bestEffort(level: Int)
    /// IOPRIO_CLASS_IDLE: I/O only when nobody else needs the disk.
    case idle

    public static let validLevels = 0...7

    /// `rt:4`, `be:7`, `idle` — `ionice`'s classes.
    public var description: String {
        switch self {
        case .realtime(let l): "rt:\(l)"
        case .bestEffort(let l): "be:\(l)"
        case .idle: "idle"
        }
    }

    /// Throws a message naming the bad level.
    package func validate() throws(IOPriorityError) {
        switch self {
        case .realtime(let l), .bestEffort(let l):
            guard Self.validLevels.contains(l) else { throw IOPriorityError(description: "I/O priority level \(l) is outside 0...7") }
        case .idle: break
        }
    }

    /// The kernel's `(class << 13) | level`.
    package var kernelValue: Int32 {
        switch self {
        case .realtime(let l): Int32(1 << 13 | l)
        case .bestEffort(let l): Int32(2 << 13 | l)
        case .idle: Int32(3 << 13)
        }
    }

    /// The priority a kernel value stands for; nil for class NONE (the default:
    /// derived from the thread's CPU scheduling) or an unknown class.
    package init?(kernelValue: Int32) {
        let level = Int(kernelValue & 0x1fff)
        switch kernelValue >> 13 {
        case 1: self = .realtime(level: level)
        case 2: self = .bestEffort(level: level)
        case 3: self = .idle
        default: return nil
        }
    }

    /// Sets the I/O priority of thread `tid` (0: the calling thread); nil sets
    /// class NONE, the kernel's default derived from the CPU scheduling — a
    /// new thread otherwise keeps its creator's I/O priority.
    package static func apply(_ priority: IOPriority?, tid: Int32) throws(Errno) {
        let rc = rtio_ioprio_set_tid(tid, priority?.kernelValue ?? 0)
        guard rc == 0 else { throw Errno(rawValue: -rc) }
    }

    /// Reads thread `tid`'s I/O priority (0: the calling thread): `.some(nil)`
    /// for class NONE, nil if the thread is gone.
    package static func read(tid: Int32) -> IOPriority?? {
        let rc = rtio_ioprio_get_tid(tid)
        guard rc >= 0 else { return nil }
        return .some(IOPriority(kernelValue: rc))
    }

    private enum CodingKeys: String, CodingKey { case realtime, bestEffort, idle }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let l = try c.decodeIfPresent(Int.self, forKey: .realtime) {
            self = .realtime(level: l)
        } else if let l = try c.decodeIfPresent(Int.self, forKey: .bestEffort) {
            self = .bestEffort(level: l)
        } else if try c.decodeIfPresent(Int.self, forKey: .idle) != nil {
            self = .idle
        } else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "ioPriority must be {\"realtime\": 0...7}, {\"bestEffort\": 0...7} or {\"idle\": 0}"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .realtime(let l): try c.encode(l, forKey: .realtime)
        case .bestEffort(let l): try c.encode(l, forKey: .bestEffort)
        case .idle: try c.encode(0, forKey: .idle)
        }
    }
}

/// An I/O priority that cannot be used.
public struct IOPriorityError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
}
