import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// One operation to run on a worker. Every case is a plain value: building
/// and submitting one allocates nothing.
///
/// Buffers and caller-owned iovec arrays must stay valid until the request's
/// completion is reaped. (`@unchecked Sendable`: the pointers are the caller's
/// promise, exactly as with pread(2).)
public enum IORequest: @unchecked Sendable {
    /// pread: up to `buffer.count` bytes at `offset`; continues after short reads until done or EOF.
    case read(FileDescriptor, into: UnsafeMutableRawBufferPointer, at: Int64)
    /// pwrite: all of `buffer` at `offset`; continues after short writes.
    case write(FileDescriptor, from: UnsafeRawBufferPointer, at: Int64)
    /// preadv. Up to four iovecs are copied into
    /// the request (the array may be temporary); more are read from the caller's array.
    case readv(FileDescriptor, UnsafeBufferPointer<iovec>, at: Int64)
    /// pwritev; iovecs as for `readv`.
    case writev(FileDescriptor, UnsafeBufferPointer<iovec>, at: Int64)
    case fsync(FileDescriptor)
    case fdatasync(FileDescriptor)
    /// fallocate with ``FallocateMode`` at `offset` for `length` bytes.
    case fallocate(FileDescriptor, FallocateMode, at: Int64, length: Int64)
    /// A blocking call of the caller's: `function(context)` on a worker; its return value is the result.
    case custom(CustomBlockingCall, context: UnsafeMutableRawPointer?)
}


/// fallocate(2) modes.
public enum FallocateMode: Sendable, Equatable {
    /// Allocate blocks (mode 0); extends the file size.
    case allocate
    /// Allocate without changing the file size (FALLOC_FL_KEEP_SIZE).
    case allocateKeepSize
    /// Discard: deallocate the range (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE).
    case punchHole
    /// Zero the range (FALLOC_FL_ZERO_RANGE).
    case zeroRange

    var flags: Int32 {
        switch self {
        case .allocate: return 0
        case .allocateKeepSize: return 0x01
        case .punchHole: return 0x02 | 0x01
        case .zeroRange: return 0x10
        }
    }
}

/// A finished request as the host sees it.
public struct IOCompletion: Sendable, Equatable {
    /// The tag given at submit.
    public var tag: UInt64
    /// Bytes transferred (or the custom call's value), or `-errno`.
    public var result: Int
    /// Index of the worker that ran it (or would have).
    public var worker: Int

    public init(tag: UInt64, result: Int, worker: Int) {
        self.tag = tag
        self.result = result
        self.worker = worker
    }

    /// The error, if the result is negative.
    public var error: Errno? { result < 0 ? Errno(rawValue: Int32(-result)) : nil }
}

/// Which worker a request goes to.
public enum Placement: Sendable, Equatable {
    /// The least-loaded worker of the whole engine.
    case leastLoaded
    /// The least-loaded worker of one group.
    case leastLoadedIn(WorkerGroupID)
    /// The next worker of one group in turn.
    case roundRobin(WorkerGroupID)
    /// One worker by engine-wide index: requests to one worker run in submission order.
    case worker(Int)
}

/// A group, by position in the configuration; from ``IOEngine/group(named:)``.
public struct WorkerGroupID: Sendable, Hashable {
    public let index: Int
    public init(index: Int) { self.index = index }
}

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
        }
    }
}
