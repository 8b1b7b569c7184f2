import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Why a submit was refused. Nothing was enqueued.
public enum SubmitError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No request slot free, or the chosen worker's ring is full. Reap, then retry.
    case full
    /// The engine is shutting down or shut down.
    case shutDown
    /// A negative offset or length, or offset + length past Int64.max.
    case invalidRange(offset: Int64, length: Int64)
    /// More iovecs than IOV_MAX (1024).
    case tooManyIOVecs(Int)
    /// No such worker or group.
    case noSuchWorker(Int)
    /// An iovec with a NULL base and a non-zero length (its index).
    case badAddress(iovec: Int)

    public var description: String {
        switch self {
        case .full:
            return "submit: no free request slot or the worker's ring is full (EAGAIN); reap completions, then retry, or raise requestsInFlight/ringCapacity"
        case .shutDown:
            return "submit: the engine is shut down (ESHUTDOWN); create a new engine"
        case .invalidRange(let o, let l):
            return "submit: invalid range offset \(o) length \(l) (EINVAL): offset and length must be >= 0 and offset + length <= Int64.max"
        case .tooManyIOVecs(let n):
            return "submit: \(n) iovecs exceeds IOV_MAX (1024) (EINVAL); split the request"
        case .badAddress(let i):
            return "submit: iovec[\(i)] has a NULL iov_base and a non-zero iov_len (EFAULT); pass a buffer or a zero length"
        case .noSuchWorker(let n):
            return "submit: no worker or group \(n) (EINVAL); use an index below the engine's worker or group count"
        }
    }

    /// The errno a C caller sees.
    public var errno: Errno {
        switch self {
        case .full: return .resourceTemporarilyUnavailable
        case .shutDown: return Errno(rawValue: ESHUTDOWN)
        case .invalidRange, .tooManyIOVecs, .noSuchWorker: return .invalidArgument
        case .badAddress: return .badAddress
        }
    }
}
