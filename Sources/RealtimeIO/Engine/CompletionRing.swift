import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A single-producer single-consumer ring of finished requests: one worker
/// (the producer) hands each completion back to the host (the consumer) in
/// one cell that carries everything the host delivers — slot, result, tag.
///
/// The capacity is at least the engine's slot count, so a push can never find
/// it full: at most `requestsInFlight` requests exist at once.
///
/// ## One line per completion
/// The consumer reads one cell — 32 bytes, two to a line — whose sequence
/// number says whether it is ready and whose payload is all the reap delivers.
/// There is no shared tail to load first, and the request's record is not
/// read back (docs/DESIGN.md, "Completion rings").
///
/// ## Ordering
/// For the cell of position `p` (cell `p & mask`): the producer writes the
/// payload, then stores `sequence = p + 1` with release; the consumer, whose
/// next position is `p`, loads `sequence` with acquire and takes the cell only
/// if it reads `p + 1` — the release/acquire pair that hands over the payload
/// and the slot. A cell keeps the sequence of its last lap (`p + 1 − capacity`
/// before position `p` is written; 0 before the first), so no clear is needed.
///
/// The consumer stores `head` with release after copying each cell and before
/// the cell's slot is freed; the producer reads it only in a debug assertion.
///
/// ## Ownership
/// `tail` (a plain word on the producer's line) and cells from `tail` on
/// belong to the worker; `head` to whichever thread reaps (one at a time; the
/// engine serialises reapers, whose flag orders one reaper's `head` before the
/// next's).
final class CompletionRing: @unchecked Sendable {
    let capacity: Int
    let mask: Int
    private let memory: CacheAlignedStorage
    private let head: UnsafeMutablePointer<Atomic<Int>>
    private let tail: UnsafeMutablePointer<Int>
    private let cells: UnsafeMutablePointer<Cell>

    /// One completion: 32 bytes, two to a cache line.
    struct Cell: ~Copyable {
        /// `p + 1` once position `p`'s payload is written (release).
        let sequence: Atomic<Int>
        /// Written by the producer before `sequence`, read by the consumer after it.
        var slot: UInt32
        var result: Int
        var tag: UInt64

        init() {
            sequence = Atomic(0)
            slot = 0
            result = 0
            tag = 0
        }
    }

    init(minimumCapacity: Int) {
        let c = Self.capacity(minimumCapacity: minimumCapacity)
        capacity = c
        mask = c - 1
        let line = CacheLine.separation
        memory = CacheAlignedStorage(byteCount: Self.storageByteCount(minimumCapacity: minimumCapacity))
        head = memory.initialize(Atomic<Int>(0), at: 0)
        tail = memory.initialize(0, at: line)
        cells = memory.line(2).bindMemory(to: Cell.self, capacity: c)
        for i in 0..<c { (cells + i).initialize(to: Cell()) }
    }

    deinit {
        cells.deinitialize(count: capacity)
    }

    /// The power of two (at least 2) a ring for `minimumCapacity` entries has.
    static func capacity(minimumCapacity: Int) -> Int {
        var c = 2
        while c < minimumCapacity { c <<= 1 }
        return c
    }

    /// Bytes of one cell.
    static var cellByteCount: Int { MemoryLayout<Cell>.stride }

    /// Bytes the ring asks ``CacheAlignedStorage`` for: head and tail lines and the cells.
    static func storageByteCount(minimumCapacity: Int) -> Int {
        2 * CacheLine.separation + capacity(minimumCapacity: minimumCapacity) * cellByteCount
    }

    /// Producer (worker) only: one completion of slot `slot`.
    @inline(__always)
    func push(_ slot: UInt32, result: Int, tag: UInt64) {
        let t = tail.pointee
        assert(t - head.pointee.load(ordering: .relaxed) < capacity, "completion ring overflow")
        let cell = cells + (t & mask)
        cell.pointee.slot = slot
        cell.pointee.result = result
        cell.pointee.tag = tag
        cell.pointee.sequence.store(t &+ 1, ordering: .releasing)
        tail.pointee = t &+ 1
    }

    /// Consumer only: takes up to `maximum` completions in order and returns
    /// how many.
    ///
    /// `head` moves past each cell *before* `body` sees it. The body frees the
    /// slot, and a freed slot can be submitted again, run and pushed back onto
    /// this ring while the drain is still going; the no-full-check invariant
    /// (positions in `[head, tail)` ≤ live slots ≤ capacity) holds only if every
    /// position still counted between `head` and `tail` is one whose slot has
    /// not been freed (docs/DESIGN.md, "Completion rings").
    @inline(__always)
    func drain(maximum: Int, _ body: (_ slot: UInt32, _ result: Int, _ tag: UInt64) -> Void) -> Int {
        var h = head.pointee.load(ordering: .relaxed)
        var n = 0
        while n < maximum {
            let cell = cells + (h & mask)
            guard cell.pointee.sequence.load(ordering: .acquiring) == h &+ 1 else { break }
            let slot = cell.pointee.slot
            let result = cell.pointee.result
            let tag = cell.pointee.tag
            h &+= 1
            n &+= 1
            // Release, then free the slot in `body`: whoever reuses the slot
            // (slab claim → submission ring → this worker's push) is ordered
            // after this store, so the push's overflow check sees it, and the
            // cell was copied before its slot can come round again.
            head.pointee.store(h, ordering: .releasing)
            body(slot, result, tag)
        }
        return n
    }

    /// Sequentially consistent emptiness check (the reaper's re-check).
    var isEmpty: Bool {
        let h = head.pointee.load(ordering: .relaxed)
        return cells[h & mask].sequence.load(ordering: .sequentiallyConsistent) != h &+ 1
    }
}
