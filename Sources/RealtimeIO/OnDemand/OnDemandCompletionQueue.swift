import Synchronization

/// Completions of on-demand workers waiting for ``IOEngine/reap(maximum:rearm:_:)``:
/// a fixed FIFO of slot indices under a `Mutex`.
///
/// Many on-demand workers produce, so the per-worker SPSC completion rings of
/// preallocated workers do not fit; a lock is acceptable here because
/// on-demand mode is the fallback (and overflow) path, whose workers already
/// take the pool's lock per request. The FIFO holds as many entries as the
/// engine has slots, so a push never finds it full and never allocates.
///
/// ``isEmpty`` — what a waiting host polls while it spins — reads a count
/// without the lock: it is stored with release under the lock after each push
/// and pop, so a waiter that reads non-zero (acquire) finds the entry when it
/// pops, and a push made before the producer's `notifyHost` is seen by the
/// waiter's re-check after its re-arm, as with the lock.
final class OnDemandCompletionQueue: @unchecked Sendable {
    private let fifo: AnnotatedMutex<SlotFIFO>
    private let count = Atomic<Int>(0)

    init(capacity: Int) { fifo = AnnotatedMutex(SlotFIFO(capacity: capacity)) }

    /// Any thread (an on-demand worker).
    func push(_ slot: UInt32) {
        let pushed = fifo.withLock { q in
            let pushed = q.push(slot)
            count.store(q.count, ordering: .releasing)
            return pushed
        }
        precondition(pushed, "on-demand completion queue overflow: slot \(slot) completed twice")
    }

    /// The reaping thread: the oldest completion, if any.
    func pop() -> UInt32? {
        fifo.withLock { q in
            let slot = q.pop()
            count.store(q.count, ordering: .releasing)
            return slot
        }
    }

    /// Any thread (the waiting host): true if no completion is queued.
    var isEmpty: Bool { count.load(ordering: .acquiring) == 0 }
}
