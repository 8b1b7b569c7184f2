// The drop-in's request slots: which are taken, and the aiocb, descriptor and
// lio_listio group of the request each one holds.
import RealtimeIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A preallocated table of the requests in flight, one slot per engine request.
///
/// A slot's index is the engine request's tag, so the worker completing a
/// request finds its aiocb without a search, and `aio_cancel(fd, NULL)` can
/// tell whether a descriptor has requests in flight. There are `capacity`
/// slots (the engine's `requestsInFlight`): a submit that finds none fails
/// with EAGAIN before the engine sees the request. Claiming and releasing a
/// slot is lock-free and allocates nothing.
///
/// ## Ownership
/// - A bitmap bit is set by the submitter that claims the slot
///   (compare-exchange, *acquire*) and cleared by whoever ends the request —
///   the worker completing it, or the submitter whose engine submit failed —
///   with *release*, after it reset the slot's words.
/// - A slot's words (aiocb address, fd, group) belong to the slot's owner:
///   written by the submitter between ``claim()`` and handing the request to
///   the engine, read by the worker completing it, reset by ``release(_:)``.
///   They are relaxed: the engine's submission handoff (ring release → worker
///   acquire) orders the submitter's writes before the worker's reads, and the
///   bit's release → next claim's acquire orders a reset before the next
///   owner's writes.
/// - Bits past `capacity` in the last bitmap word are set at init and never
///   cleared.
/// - `hint` (the word to start searching at) is a relaxed guess; any value is
///   correct.
///
/// ## Readers that own no slot
/// ``contains(fd:)`` loads the bitmap with acquire and the slot words relaxed:
/// a slot claimed concurrently may still show its reset words. The answer is
/// exact for requests whose submit returned before the call.
final class InFlightTable: @unchecked Sendable {
    /// Number of slots.
    let capacity: Int
    private let words: Int
    private let storage: CacheAlignedStorage
    private let hint: UnsafeMutablePointer<Atomic<Int>>
    /// One bit per slot; a set bit is a slot taken by a request not yet completed.
    private let bitmap: UnsafeMutablePointer<Atomic<UInt64>>
    /// The aiocb address of each slot (0: none).
    private let slotCB: UnsafeMutablePointer<Atomic<UInt>>
    /// The descriptor of each slot (-1: none).
    private let slotFD: UnsafeMutablePointer<Atomic<Int32>>
    /// The lio_listio group of each slot (-1: none); see ``ListIOGroups``.
    private let slotGroup: UnsafeMutablePointer<Atomic<Int32>>

    init(capacity: Int) {
        self.capacity = capacity
        let words = (capacity + 63) / 64
        self.words = words
        var layout = CacheLineLayout()
        let hintAt = layout.reserve(Atomic<Int>.self)
        let bitmapAt = layout.reserve(Atomic<UInt64>.self, count: words)
        let cbAt = layout.reserve(Atomic<UInt>.self, count: capacity)
        let fdAt = layout.reserve(Atomic<Int32>.self, count: capacity)
        let groupAt = layout.reserve(Atomic<Int32>.self, count: capacity)
        storage = CacheAlignedStorage(byteCount: layout.byteCount)
        hint = storage.initialize(Atomic<Int>(0), at: hintAt)
        bitmap = storage.initialize(count: words, at: bitmapAt) { i in
            // Bits past `capacity` are permanently taken.
            let valid = min(64, capacity - i * 64)
            return Atomic<UInt64>(valid == 64 ? 0 : ~UInt64(0) << UInt64(valid))
        }
        slotCB = storage.initialize(count: capacity, at: cbAt) { _ in Atomic<UInt>(0) }
        slotFD = storage.initialize(count: capacity, at: fdAt) { _ in Atomic<Int32>(-1) }
        slotGroup = storage.initialize(count: capacity, at: groupAt) { _ in Atomic<Int32>(-1) }
    }

    /// Claims a free slot, or nil (EAGAIN). Lock-free: one compare-exchange per
    /// attempt, retried only when another claimer or releaser changed the word.
    @inline(__always)
    func claim() -> Int? {
        let start = hint.pointee.load(ordering: .relaxed)
        var w = 0
        while w < words {
            let word = (start + w) % words
            var bits = bitmap[word].load(ordering: .relaxed)
            while bits != ~UInt64(0) {
                let bit = (~bits).trailingZeroBitCount
                let (exchanged, original) = bitmap[word].compareExchange(
                    expected: bits, desired: bits | (1 << UInt64(bit)), ordering: .acquiring)
                if exchanged {
                    if bits | (1 << UInt64(bit)) == ~UInt64(0) { hint.pointee.store((word + 1) % words, ordering: .relaxed) }
                    return word * 64 + bit
                }
                bits = original
            }
            w += 1
        }
        return nil
    }

    /// Records the request of a slot just claimed (the slot's owner only).
    @inline(__always)
    func record(slot: Int, aiocb cb: UnsafeMutablePointer<aiocb>, fd: Int32, group: Int32) {
        slotCB[slot].store(UInt(bitPattern: cb), ordering: .relaxed)
        slotFD[slot].store(fd, ordering: .relaxed)
        slotGroup[slot].store(group, ordering: .relaxed)
    }

    /// The aiocb of a recorded slot (the worker completing its request).
    @inline(__always)
    func aiocb(at slot: Int) -> UnsafeMutablePointer<aiocb> {
        UnsafeMutablePointer<aiocb>(bitPattern: slotCB[slot].load(ordering: .relaxed))!
    }

    /// The lio_listio group of a recorded slot (-1: none).
    @inline(__always)
    func group(at slot: Int) -> Int32 {
        slotGroup[slot].load(ordering: .relaxed)
    }

    /// Resets the slot's words and frees it (release: the next claimer sees the reset).
    @inline(__always)
    func release(_ slot: Int) {
        slotCB[slot].store(0, ordering: .relaxed)
        slotFD[slot].store(-1, ordering: .relaxed)
        bitmap[slot / 64].bitwiseAnd(~(UInt64(1) << UInt64(slot % 64)), ordering: .releasing)
    }

    /// True if a request on `fd` is in flight (a scan of every taken slot).
    func contains(fd: Int32) -> Bool {
        for word in 0..<words {
            var bits = bitmap[word].load(ordering: .acquiring)
            while bits != 0 {
                let bit = bits.trailingZeroBitCount
                bits &= bits - 1
                let slot = word * 64 + bit
                if slot < capacity && slotFD[slot].load(ordering: .relaxed) == fd && slotCB[slot].load(ordering: .relaxed) != 0 {
                    return true
                }
            }
        }
        return false
    }
}
