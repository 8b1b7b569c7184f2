import Synchronization

/// Completions of on-demand workers waiting for ``IOEngine/reap(maximum:rearm:_:)``:
/// a fixed FIFO of slot indices under a `Mutex`.
///
/// Many on-demand workers produce, so the per-worker SPSC completion rings of
/// preallocated workers do not fit; a lock is acceptable here because
/// on-demand mode is the fallback (and overflow) path, whose workers already
/// take the pool's lock per request. The FIFO holds as many entries as the
/// engine has slots, so a push never finds it full and never allocates.
final class OnDemandCompletionQueue: @unchecked Sendable {
    private let fifo: AnnotatedMutex<SlotFIFO>

    init(capacity: Int) { fifo = AnnotatedMutex(SlotFIFO(capacity: capacity)) }

    /// Any thread (an on-demand worker).
    func push(_ slot: UInt32) {
        let pushed = fifo.withLock { $0.push(slot) }
        precondition(pushed, "on-demand completion queue overflow: slot \(slot) completed twice")
    }

    /// The reaping thread: the oldest completion, if any.
    func pop() -> UInt32? { fifo.withLock { $0.pop() } }

    /// Any thread (the waiting host): true if no completion is queued.
    var isEmpty: Bool { fifo.withLock { $0.isEmpty } }
}
