#if canImport(Glibc)
import Glibc
#endif

/// What a request asks a worker to do.
package enum OperationCode: UInt8, Sendable, CaseIterable, Codable {
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
package struct RequestRecord {
    /// iovecs carried inside the record; more must come from a caller-owned array.
    package static let inlineIOVecCapacity = 4

    // Line 0, shared with the slot's state word (``RequestSlab``): all that a
    // request's round trip touches — what the worker reads to run it, the
    // result it writes, what the reaper reads back. A hand-off then moves
    // this one line each way. Order matters: the state word (8 bytes) and
    // these 56 fill the line (``RequestSlab/handOffBytes``, checked by a test).
    package var opcode: OperationCode = .read
    /// Internal flags (``RequestFlags``).
    var flags: UInt8 = 0
    package var fd: Int32 = -1
    package var offset: Int64 = 0
    /// Bytes to transfer (read/write), length (fallocate), or iovec count (readv/writev).
    package var length: Int = 0
    /// Buffer (read/write), iovec array (readv/writev), custom context.
    package var buffer: UnsafeMutableRawPointer? = nil
    /// The caller's tag, returned with the completion.
    package var tag: UInt64 = 0
    /// Bytes (≥ 0) or `-errno`.
    package var result: Int = 0
    /// CLOCK_MONOTONIC ns at which submit accepted it (the worker's queue-wait figure).
    package var submittedAt: UInt64 = 0

    // Line 1 and on: what only some requests or only one side touch.
    /// The worker whose ring the request was queued on, or `IOEngine.onDemandTarget`:
    /// the ``IOCompletion/worker`` of a completion the canceller delivers.
    var target: Int32 = 0
    /// fallocate mode bits.
    package var mode: Int32 = 0
    package var custom: CustomBlockingCall? = nil
    /// CLOCK_MONOTONIC ns at which a worker's io_uring took it (read back when it completes).
    package var startedAt: UInt64 = 0
    /// For the async API: an unmanaged continuation box, resumed by the worker.
    var continuation: UnsafeMutableRawPointer? = nil
    /// Link of a posted completion (cancelled, or read by its submitter) waiting for reap (``PostedCompletions``).
    var postedNext: UInt32 = 0
    var inlineIOVecs: (iovec, iovec, iovec, iovec) = (iovec(), iovec(), iovec(), iovec())

    /// ``target`` as an ``IOCompletion/worker``: nil for the on-demand pool
    /// and for a read its submitter ran during worker W's rest (`-2 - W`).
    var workerIndex: Int? { target >= 0 ? Int(target) : nil }
    /// The worker during whose rest the submitter ran this read itself, if so.
    var restingWorker: Int? { target <= -2 ? Int(-2 - target) : nil }

    package init() {}
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
