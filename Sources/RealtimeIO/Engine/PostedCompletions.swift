import Synchronization

/// Completions posted by a thread that is not a worker, waiting for
/// ``IOEngine/reap(maximum:rearm:_:)`` (`eventfd` delivery): those of
/// cancelled requests (posted by whichever thread called
/// ``IOEngine/cancel(_:)``) and of reads a submitter ran itself while their
/// worker rested (``IOEngine/readDuringRest(_:_:)``). They cannot go through a
/// worker's single-producer completion ring.
///
/// A Treiber stack of slot indices linked through the records'
/// `postedNext`: posters push with a compare-exchange (push alone is
/// ABA-safe), the one reaper takes the whole stack with one exchange and
/// keeps it, reversed into submission-of-cancel order, in a list only it
/// touches. Lock-free, allocation-free, at most as many entries as slots.
///
/// ## Ordering
/// A pusher writes the record (result, link), then publishes it with the
/// releasing compare-exchange; the reaper's acquiring exchange pairs with it.
/// The pusher then announces with ``EngineCore/notifyHost()``, whose fence
/// pairs with the reaper's re-arm like a worker's completion push.
///
/// ## Cost for reap
/// One load of the head (its own line, written only by posters) per drain.
final class PostedCompletions: @unchecked Sendable {
    private let storage = CacheAlignedStorage(byteCount: storageByteCount)
    /// Bytes asked of ``CacheAlignedStorage`` (for ``EngineFootprint``): two lines.
    static let storageByteCount = 2 * CacheLine.separation
    /// Line 0: the shared stack head (`RequestSlab.none` when empty); written by posters (cancellers, submitters).
    private let head: UnsafeMutablePointer<Atomic<UInt32>>
    /// Line 1: the reaper's own FIFO, oldest first (plain: one reaper at a time,
    /// serialised by `EngineCore.reaping`, whose acquire/release orders them).
    /// Reaper-written only; atomic (relaxed) so a waiter on another thread may read it.
    private let taken: UnsafeMutablePointer<Atomic<UInt32>>

    init() {
        head = storage.initialize(Atomic<UInt32>(RequestSlab.none), at: 0)
        taken = storage.initialize(Atomic<UInt32>(RequestSlab.none), at: CacheLine.separation)
    }

    /// Any thread that owns the host side of a posted slot (a canceller, or a submitter that ran a read).
    func push(_ slot: UInt32, slab: RequestSlab) {
        let record = slab.record(slot)
        var current = head.pointee.load(ordering: .relaxed)
        while true {
            record.pointee.postedNext = current
            let (exchanged, observed) = head.pointee.compareExchange(
                expected: current, desired: slot, successOrdering: .releasing, failureOrdering: .relaxed)
            if exchanged { return }
            current = observed
        }
    }

    /// The reaper: the oldest waiting cancelled slot, if any.
    /// Reaper side: nothing taken and nothing pushed (one relaxed load of the
    /// head when the reaper holds none). A push racing this check is seen by
    /// the re-check that follows the host's re-arm: the canceller pushes
    /// before it calls `notifyHost`, like a worker.
    @inline(__always)
    var isEmpty: Bool {
        taken.pointee.load(ordering: .relaxed) == RequestSlab.none && head.pointee.load(ordering: .relaxed) == RequestSlab.none
    }

    @inline(__always)
    func pop(slab: RequestSlab) -> UInt32? {
        if taken.pointee.load(ordering: .relaxed) == RequestSlab.none {
            if head.pointee.load(ordering: .relaxed) == RequestSlab.none { return nil }
            // Take everything and reverse it (the stack is newest first).
            var node = head.pointee.exchange(RequestSlab.none, ordering: .acquiring)
            var reversed = RequestSlab.none
            while node != RequestSlab.none {
                let record = slab.record(node)
                let next = record.pointee.postedNext
                record.pointee.postedNext = reversed
                reversed = node
                node = next
            }
            taken.pointee.store(reversed, ordering: .relaxed)
        }
        let slot = taken.pointee.load(ordering: .relaxed)
        taken.pointee.store(slab.record(slot).pointee.postedNext, ordering: .relaxed)
        return slot
    }
}
