import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A single-producer single-consumer ring of slot indices: one worker (the
/// producer) hands finished requests back to the host (the consumer).
///
/// The capacity is at least the engine's slot count, so a push can never find
/// it full: at most `requestsInFlight` requests exist at once.
///
/// ## Ordering
/// The producer writes the entry, then stores `tail` with release; the consumer
/// loads `tail` with acquire before reading entries — the release/acquire pair
/// that hands over the slot and its record. The consumer stores `head` with
/// release after reading each entry and before the entry's slot is freed; the
/// producer never needs it (no full check) except in debug assertions.
///
/// ## Ownership
/// `tail` and the entries past it belong to the worker; `head` to whichever
/// thread reaps (one at a time; the engine serialises reapers).
final class CompletionRing: @unchecked Sendable {
    let capacity: Int
    let mask: Int
    private let memory: CacheAlignedStorage
    private let head: UnsafeMutablePointer<Atomic<Int>>
    private let tail: UnsafeMutablePointer<Atomic<Int>>
    private let entries: UnsafeMutablePointer<UInt32>

    init(minimumCapacity: Int) {
        let c = Self.capacity(minimumCapacity: minimumCapacity)
        capacity = c
        mask = c - 1
        let line = CacheLine.separation
        memory = CacheAlignedStorage(byteCount: Self.storageByteCount(minimumCapacity: minimumCapacity))
        head = memory.initialize(Atomic<Int>(0), at: 0)
        tail = memory.initialize(Atomic<Int>(0), at: line)
        entries = memory.line(2).bindMemory(to: UInt32.self, capacity: c)
    }

    /// The power of two (at least 2) a ring for `minimumCapacity` entries has.
    static func capacity(minimumCapacity: Int) -> Int {
        var c = 2
        while c < minimumCapacity { c <<= 1 }
        return c
    }

    /// Bytes the ring asks ``CacheAlignedStorage`` for: head and tail lines and the entries.
    static func storageByteCount(minimumCapacity: Int) -> Int {
        2 * CacheLine.separation + capacity(minimumCapacity: minimumCapacity) * MemoryLayout<UInt32>.stride
    }

    /// Producer (worker) only.
    @inline(__always)
    func push(_ slot: UInt32) {
        let t = tail.pointee.load(ordering: .relaxed)
        assert(t - head.pointee.load(ordering: .relaxed) < capacity, "completion ring overflow")
        entries[t & mask] = slot
        tail.pointee.store(t &+ 1, ordering: .releasing)
    }

    /// Consumer only: takes up to `maximum` entries in order.
    ///
    /// `head` moves past each entry *before* `body` sees it. The body frees the
    /// slot, and a freed slot can be submitted again, run and pushed back onto
    /// this ring while the drain is still going; the no-full-check invariant
    /// (entries in `[head, tail)` ≤ live slots ≤ capacity) holds only if every
    /// entry still counted between `head` and `tail` is one whose slot has not
    /// been freed (docs/DESIGN.md, "Completion rings").
    @inline(__always)
    func drain(maximum: Int, _ body: (UInt32) -> Void) -> Int {
        let h = head.pointee.load(ordering: .relaxed)
        let available = tail.pointee.load(ordering: .acquiring) &- h
        let n = min(available, maximum)
        if n <= 0 { return 0 }
        var i = 0
        while i < n {
            let slot = entries[(h &+ i) & mask]
            i &+= 1
            // Release, then free the slot in `body`: whoever reuses the slot
            // (slab claim → submission ring → this worker's push) is ordered
            // after this store, so the push's overflow check sees it and the
            // cell just read is never rewritten before it was read.
            head.pointee.store(h &+ i, ordering: .releasing)
            body(slot)
        }
        return n
    }

    /// Sequentially consistent emptiness check (the reaper's re-check).
    var isEmpty: Bool {
        tail.pointee.load(ordering: .sequentiallyConsistent) == head.pointee.load(ordering: .relaxed)
    }
}
