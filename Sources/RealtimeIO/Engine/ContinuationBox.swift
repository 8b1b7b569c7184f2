import Synchronization
import SystemPackage

/// The heap box that carries an async caller's continuation through a
/// request record (the async API's one allocation per request), and the
/// handshake between ``IOEngine/perform(_:placement:)`` and its task's
/// cancellation handler.
///
/// Ownership: ``IOEngine`` retains it once when it stores the pointer in a
/// record; whoever completes the request — the worker, or the canceller of a
/// queued request — takes that retain back in ``resume(_:result:)``. The
/// `perform` frame keeps its own reference until it returns.
///
/// ## Cancellation handshake
/// The cancellation handler may run before the submit returned a handle (even
/// before it started), concurrently with it, or after. `phase` decides who
/// calls ``IOEngine/cancel(_:)``: ``publish(_:)`` stores the handle and moves
/// `idle → published`; ``requestCancel()`` exchanges in `cancelRequested`. If
/// the handler came first, the publisher cancels; otherwise the handler does,
/// reading the handle the publisher's releasing compare-exchange published.
final class ContinuationBox: @unchecked Sendable {
    /// Set once before the request is submitted (the submission ring's publish
    /// orders it before the worker's read).
    var continuation: UnsafeContinuation<Int, any Error>?
    /// Written before `phase` becomes `published`, read after.
    private var handle = RequestHandle(slot: 0, generation: 0)
    private let phase = Atomic<UInt8>(Phase.idle)

    private enum Phase {
        static let idle: UInt8 = 0
        static let published: UInt8 = 1
        static let cancelRequested: UInt8 = 2
    }

    init() {}

    /// The submitter, once it has the handle: false if the task was cancelled
    /// meanwhile, and the caller must cancel `handle` itself.
    func publish(_ handle: RequestHandle) -> Bool {
        self.handle = handle
        return phase.compareExchange(
            expected: Phase.idle, desired: Phase.published, successOrdering: .releasing, failureOrdering: .relaxed
        ).exchanged
    }

    /// The task's cancellation handler: the handle to cancel, or nil when the
    /// submitter has not published one yet (it will see the request and cancel).
    func requestCancel() -> RequestHandle? {
        phase.exchange(Phase.cancelRequested, ordering: .acquiring) == Phase.published ? handle : nil
    }

    /// Resumes the continuation with `result` and takes back the retain made at submit.
    ///
    /// `resume` does not run the awaiting task here: the Swift runtime
    /// enqueues the task's next partial task on the task's executor (its actor,
    /// its task-executor preference, or the global concurrent executor) and
    /// returns. So code after `await` never runs on the resuming thread — a
    /// real-time worker, or the thread that called ``IOEngine/cancel(_:)``.
    static func resume(_ raw: UnsafeMutableRawPointer, result: Int) {
        let box = Unmanaged<ContinuationBox>.fromOpaque(raw).takeRetainedValue()
        let continuation = box.continuation!
        if result < 0 {
            continuation.resume(throwing: Errno(rawValue: Int32(-result)))
        } else {
            continuation.resume(returning: result)
        }
    }
}
