#if canImport(Glibc)
import Glibc
#endif

/// What a request asks a worker to do.
public enum OperationCode: UInt8, Sendable, CaseIterable, Codable {
    case read, write, readv, writev, fsync, fdatasync, fallocate, custom
}

/// A custom blocking call run on a worker: receives the caller's context,
/// returns a result (by convention bytes or a value ≥ 0, or `-errno`).
public typealias CustomBlockingCall = @convention(c) (UnsafeMutableRawPointer?) -> Int

/// One preallocated request: everything a worker needs to run an operation and
/// everything the host reads back. Lives in a ``RequestSlab``; never allocated
/// on the I/O path.
///
/// Ownership moves with the slot index: the submitter fills it, the submission
/// ring's publish hands it to a worker, the completion ring's publish hands it
/// back to the host, and ``RequestSlab/release(_:)`` frees it.
public struct RequestRecord {
    /// iovecs carried inside the record; more must come from a caller-owned array.
    public static let inlineIOVecCapacity = 4

    public var opcode: OperationCode = .read
    /// Internal flags (``RequestFlags``).
    var flags: UInt8 = 0
    /// Index of the worker that owns the request once submitted.
    var worker: UInt16 = 0
    public var fd: Int32 = -1
    /// fallocate mode bits.
    public var mode: Int32 = 0
    public var offset: Int64 = 0
    /// Bytes to transfer (read/write), length (fallocate), or iovec count (readv/writev).
    public var length: Int = 0
    /// Buffer (read/write), iovec array (readv/writev), custom context.
    public var buffer: UnsafeMutableRawPointer? = nil
    public var custom: CustomBlockingCall? = nil
    /// The caller's tag, returned with the completion.
    public var tag: UInt64 = 0
    /// Bytes (≥ 0) or `-errno`.
    public var result: Int = 0
    /// CLOCK_MONOTONIC ns: accepted by submit, started by a worker, finished.
    public var submittedAt: UInt64 = 0
    public var startedAt: UInt64 = 0
    public var finishedAt: UInt64 = 0
    /// For the async API: an unmanaged continuation box, resumed by the worker.
    var continuation: UnsafeMutableRawPointer? = nil
    var inlineIOVecs: (iovec, iovec, iovec, iovec) = (iovec(), iovec(), iovec(), iovec())

    public init() {}
}

/// Bits of ``RequestRecord``'s internal flags.
enum RequestFlags {
    /// The worker resumes `continuation` and frees the slot instead of posting
    /// a completion to the host.
    static let resumesContinuation: UInt8 = 1 << 0
    /// The iovecs live inline in the record.
    static let inlineIOVecs: UInt8 = 1 << 1
    /// Completed with ECANCELED without running (shutdown(.cancel)).
    static let cancelled: UInt8 = 1 << 2
}
