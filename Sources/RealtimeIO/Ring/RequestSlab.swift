import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A fixed slab of request records with a lock-free, ABA-safe free list.
///
/// Every record RealtimeIO will ever use is allocated, cache-line aligned and
/// touched when the slab is created. Acquiring and releasing a slot is a
/// compare-exchange on one 64-bit word; an empty free list is a clean `nil`,
/// never a crash and never a wait.
///
/// ## Free list
/// A Treiber stack of slot indices. The head word packs a 32-bit index (the
/// top slot, or `Self.none`) with a 32-bit tag incremented by every successful
/// update, so a head that was popped and pushed back between a thread's load
/// and its compare-exchange (ABA) no longer compares equal. Links live in a
/// separate array of atomics, so a racing reader of a link that is being
/// rewritten reads a stale value (then fails its compare-exchange) rather than
/// racing on plain memory.
///
/// ## Ordering
/// ``release(_:)`` publishes the head with release ordering; ``acquire()``
/// loads it with acquire ordering. Whatever the releasing thread wrote into the
/// record happens before the next owner reads it.
///
/// ## Layout
/// Each slot is one ``recordStride`` (a multiple of 64 bytes): its state word
/// (``RequestState``, 8 bytes) first, then its record.
///
/// ## Ownership
/// A slot index returned by ``acquire()`` is owned by the caller until it
/// passes it on (through a ring, whose ordering carries the ownership) or
/// calls ``release(_:)``. Releasing an index twice, or one not acquired, corrupts
/// the list: debug builds trap on both.
package final class RequestSlab: @unchecked Sendable {
    /// The index no slot has: the end of the free list.
    @usableFromInline static let none: UInt32 = .max

    /// Number of slots.
    package let count: Int
    /// Distance between records: `MemoryLayout<RequestRecord>.stride` rounded up to 64.
    @usableFromInline let recordStride: Int
    @usableFromInline let records: UnsafeMutableRawPointer
    @usableFromInline let links: UnsafeMutablePointer<Atomic<UInt32>>
    /// Line 0: the free-list head; lines 1...: the records.
    private let storage: CacheAlignedStorage
    @usableFromInline let head: UnsafeMutablePointer<Atomic<UInt64>>
    #if DEBUG
    let ownedFlags: UnsafeMutablePointer<Atomic<Bool>>
    #endif

    /// Allocates `count` zeroed records (touched: every page faulted in now).
    package init(count: Int) throws(ConfigurationError) {
        try EngineConfiguration.checkRequestsInFlight(count)
        self.count = count
        recordStride = Self.recordByteStride
        storage = CacheAlignedStorage(byteCount: Self.storageByteCount(count: count))
        records = storage.line(1)
        for i in 0..<count {
            (records + i * recordStride).bindMemory(to: Atomic<UInt64>.self, capacity: 1).initialize(to: Atomic(0))
            (records + i * recordStride + Self.recordOffset).bindMemory(to: RequestRecord.self, capacity: 1)
                .initialize(to: RequestRecord())
        }
        links = .allocate(capacity: count)
        for i in 0..<count {
            (links + i).initialize(to: Atomic(i + 1 < count ? UInt32(i + 1) : Self.none))
        }
        head = storage.initialize(Atomic<UInt64>(Self.pack(index: 0, tag: 0)), at: 0)
        #if DEBUG
        ownedFlags = .allocate(capacity: count)
        for i in 0..<count { (ownedFlags + i).initialize(to: Atomic(false)) }
        #endif
    }

    deinit {
        links.deinitialize(count: count)
        links.deallocate()
        #if DEBUG
        ownedFlags.deallocate()
        #endif
    }

    /// Offset of a slot's record after its state word.
    @usableFromInline static let recordOffset = MemoryLayout<Atomic<UInt64>>.stride

    /// Bytes from a slot's start through the last field of a request's round
    /// trip (``RequestRecord``'s line 0: the state word, what the worker reads,
    /// `result`, `tag`, `submittedAt`). At most 64: slots start on a cache line,
    /// so a hand-off moves one line each way.
    package static var handOffBytes: Int {
        recordOffset + MemoryLayout<RequestRecord>.offset(of: \.submittedAt)! + MemoryLayout<UInt64>.size
    }

    /// The state word and `MemoryLayout<RequestRecord>.stride`, rounded up to 64 bytes.
    package static var recordByteStride: Int {
        CacheLine.roundUp(recordOffset + MemoryLayout<RequestRecord>.stride, to: 64)
    }

    /// Bytes the records ask ``CacheAlignedStorage`` for: the head line and `count` records.
    package static func storageByteCount(count: Int) -> Int { count * recordByteStride + CacheLine.separation }

    /// Heap bytes besides the records: the free-list links (and, in debug builds, the ownership flags).
    package static func sideTableByteCount(count: Int) -> Int {
        #if DEBUG
        count * (MemoryLayout<Atomic<UInt32>>.stride + MemoryLayout<Atomic<Bool>>.stride)
        #else
        count * MemoryLayout<Atomic<UInt32>>.stride
        #endif
    }

    @inlinable static func pack(index: UInt32, tag: UInt32) -> UInt64 {
        UInt64(tag) << 32 | UInt64(index)
    }

    /// Takes a free slot, or nil when all `count` are in use.
    @inlinable
    package func acquire() -> UInt32? {
        var current = head.pointee.load(ordering: .acquiring)
        while true {
            let index = UInt32(truncatingIfNeeded: current)
            if index == Self.none { return nil }
            let next = links[Int(index)].load(ordering: .relaxed)
            let tag = UInt32(truncatingIfNeeded: current >> 32) &+ 1
            let (exchanged, observed) = head.pointee.compareExchange(
                expected: current, desired: Self.pack(index: next, tag: tag),
                successOrdering: .acquiring, failureOrdering: .acquiring)
            if exchanged {
                debugMarkOwned(index, true)
                return index
            }
            current = observed
        }
    }

    /// Returns a slot to the free list.
    @inlinable
    package func release(_ index: UInt32) {
        precondition(Int(index) < count, "slot \(index) is outside a slab of \(count)")
        debugMarkOwned(index, false)
        var current = head.pointee.load(ordering: .relaxed)
        while true {
            links[Int(index)].store(UInt32(truncatingIfNeeded: current), ordering: .relaxed)
            let tag = UInt32(truncatingIfNeeded: current >> 32) &+ 1
            let (exchanged, observed) = head.pointee.compareExchange(
                expected: current, desired: Self.pack(index: index, tag: tag),
                successOrdering: .releasing, failureOrdering: .relaxed)
            if exchanged { return }
            current = observed
        }
    }

    /// The record of slot `index`. Valid while the slab lives; access it only
    /// while owning the slot.
    @inlinable
    package func record(_ index: UInt32) -> UnsafeMutablePointer<RequestRecord> {
        (records + Int(index) &* recordStride + Self.recordOffset).assumingMemoryBound(to: RequestRecord.self)
    }

    /// Counts free slots by walking the list. Not for concurrent use: for tests
    /// and shutdown checks only.
    package func quiescentFreeCount() -> Int {
        var n = 0
        var index = UInt32(truncatingIfNeeded: head.pointee.load(ordering: .acquiring))
        while index != Self.none && n <= count {
            n += 1
            index = links[Int(index)].load(ordering: .relaxed)
        }
        return n
    }

    @usableFromInline
    func debugMarkOwned(_ index: UInt32, _ owned: Bool) {
        #if DEBUG
        let previous = ownedFlags[Int(index)].exchange(owned, ordering: .relaxed)
        precondition(previous != owned, owned ? "slot \(index) handed out twice" : "slot \(index) released twice")
        #endif
    }
}
