import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// One entry of a batch for ``IOEngine/submit(batch:placement:)``: a request
/// and the tag its completion carries. A plain value; building one allocates nothing.
public struct IOSubmission: @unchecked Sendable {
    /// What to run.
    public var request: IORequest
    /// Returned in ``IOCompletion/tag``.
    public var tag: UInt64

    /// A batch entry.
    public init(_ request: IORequest, tag: UInt64) {
        self.request = request
        self.tag = tag
    }
}

/// Why a batch submit was refused. Batches are all or nothing: whatever the
/// error, no request of the batch was enqueued, and none will complete.
public enum BatchSubmitError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The request at `index` is invalid (``SubmitError/invalidRange(offset:length:)``,
    /// ``SubmitError/tooManyIOVecs(_:)``, ``SubmitError/badAddress(iovec:)``);
    /// fix it and submit the batch again.
    case invalidRequest(index: Int, SubmitError)
    /// The whole batch was refused: ``SubmitError/full`` (fewer free request
    /// slots or ring cells than the batch needs: reap, then retry),
    /// ``SubmitError/shutDown``, or ``SubmitError/noSuchWorker(_:)`` (the placement).
    case refused(SubmitError)
    /// More requests than the engine can ever hold at once: a batch must fit
    /// in one worker's ring (``EngineConfiguration/ringCapacity``) and in the
    /// request slots (``EngineConfiguration/requestsInFlight``).
    case batchTooLarge(count: Int, limit: Int)

    public var description: String {
        switch self {
        case .invalidRequest(let index, let error):
            return "submit batch: request \(index): \(error)"
        case .refused(let error):
            return "submit batch: \(error)"
        case .batchTooLarge(let count, let limit):
            return "submit batch: \(count) requests exceed the \(limit) one batch may hold (EINVAL): the ring capacity and requestsInFlight bound a batch; split it or raise them"
        }
    }

    /// The errno a C caller sees.
    public var errno: Errno {
        switch self {
        case .invalidRequest(_, let error), .refused(let error): return error.errno
        case .batchTooLarge: return .invalidArgument
        }
    }
}
