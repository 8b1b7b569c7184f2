// The drop-in's request slots: which are taken, and everything about the
// request each one holds (copied out of the aiocb at submit).
import RealtimeIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What a slot holds about its request: copied out of the aiocb by the
/// submitter, read by the worker that runs it (``SlotOperation``) and by the
/// completer. Nothing re-reads the aiocb after submit except to publish the
/// result into it.
struct SlotRequest {
    /// The caller's control block (results are published into it).
    var aiocb: UnsafeMutablePointer<aiocb>? = nil
    var buffer: UnsafeMutableRawPointer? = nil
    var count = 0
    var offset: Int64 = 0
    var fd: Int32 = -1
    /// `LIO_READ` or `LIO_WRITE` (fsyncs are engine requests of their own).
    var opcode: Int32 = 0
    /// The lio_listio group (-1: none); see ``ListIOGroups``.
    var group: Int32 = -1
    /// The request's own notification, validated and copied at submit.
    var notification = Notification()
    /// Spread mode only: where a worker records whether `fd` could seek (nil: ordered mode).
    var seekable: DescriptorBits? = nil
    /// Preallocated workers only: where a worker records that `fd` is a stream
    /// (see ``SlotOperation``); nil when there are no stream threads.
    var streams: DescriptorBits? = nil
    /// The request is in its descriptor's ``DescriptorChains`` chain and runs on
    /// the chain engine (on-demand mode, or a stream handed on by a worker).
    /// Written by the slot's owner: the submitter, or the worker that hands the
    /// request on (before it appends it to the chain).
    var chained = false
}

/// A preallocated table of the requests in flight, one slot per engine request.
///
/// A slot's index is the engine request's tag, so the worker completing a
/// request finds its ``SlotRequest`` without a search, and
/// `aio_cancel(fd, NULL)` can find a descriptor's requests. There are
/// `capacity` slots (the engine's `requestsInFlight`): a submit that finds
/// none fails with EAGAIN before the engine sees the request. Claiming and
/// releasing a slot is lock-free and allocates nothing.
///
/// A slot is held from submit until its notification was delivered: for a
/// `SIGEV_THREAD` request that is after the function returned (the
/// ``ThreadNotifier``'s queue holds slot indices, so it can never overflow).
/// The request itself is *done* (no longer listed by ``forEachInFlight(fd:_:)``)
/// once the completer cleared ``active``.
///
/// ## Ownership
/// - A bitmap bit is set by the submitter that claims the slot
///   (compare-exchange, *acquire*) and cleared by whoever ends the slot's
///   life — the completer, the ``ThreadNotifier`` after the function ran, or
///   the submitter whose engine submit failed — with *release*.
/// - ``request(_:)`` belongs to the slot's owner: written by the submitter
///   between ``claim()`` and handing the request to the engine, read by the
///   worker and the completer (the engine's submission handoff orders the
///   writes before those reads).
/// - `active` holds the fd + 1 of a request handed to the engine and not yet
///   completed (0: none). The submitter stores it with *release* after the
///   record is written; the completer clears it (relaxed) before it publishes
///   the result. Readers that own no slot (``forEachInFlight(fd:_:)``) load it
///   with *acquire*: a request whose submit returned before the call is seen.
/// - `hint` (the word to start searching at) is a relaxed guess.
final class RequestSlots: @unchecked Sendable {
    /// Number of slots.
    let capacity: Int
    private let words: Int
    private let storage: CacheAlignedStorage
    private let hint: UnsafeMutablePointer<Atomic<Int>>
    /// One bit per slot; a set bit is a slot taken.
    private let bitmap: UnsafeMutablePointer<Atomic<UInt64>>
    private let active: UnsafeMutablePointer<Atomic<Int32>>
    /// The engine's ``RequestHandle`` of each slot's request (raw; 0: not known yet).
    private let handles: UnsafeMutablePointer<Atomic<UInt64>>
    private let requests: UnsafeMutablePointer<SlotRequest>

    init(capacity: Int) {
        self.capacity = capacity
        let words = (capacity + 63) / 64
        self.words = words
        var layout = CacheLineLayout()
        let hintAt = layout.reserve(Atomic<Int>.self)
        let bitmapAt = layout.reserve(Atomic<UInt64>.self, count: words)
        let activeAt = layout.reserve(Atomic<Int32>.self, count: capacity)
        let handlesAt = layout.reserve(Atomic<UInt64>.self, count: capacity)
        let requestsAt = layout.reserve(SlotRequest.self, count: capacity)
        storage = CacheAlignedStorage(byteCount: layout.byteCount)
        hint = storage.initialize(Atomic<Int>(0), at: hintAt)
        bitmap = storage.initialize(count: words, at: bitmapAt) { i in
            // Bits past `capacity` are permanently taken.
            let valid = min(64, capacity - i * 64)
            return Atomic<UInt64>(valid == 64 ? 0 : ~UInt64(0) << UInt64(valid))
        }
        active = storage.initialize(count: capacity, at: activeAt) { _ in Atomic<Int32>(0) }
        handles = storage.initialize(count: capacity, at: handlesAt) { _ in Atomic<UInt64>(0) }
        requests = storage.initialize(count: capacity, at: requestsAt) { _ in SlotRequest() }
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

    /// The request record of `slot` (its owner's).
    @inline(__always)
    func request(_ slot: Int) -> UnsafeMutablePointer<SlotRequest> { requests + slot }

    /// Marks the request of `slot` (on `fd`) in flight (release: its record is written).
    @inline(__always)
    func activate(_ slot: Int, fd: Int32) {
        active[slot].store(fd &+ 1, ordering: .releasing)
    }

    /// The submitter, after the engine accepted the request: its handle, for aio_cancel.
    ///
    /// Release (after ``activate(_:fd:)``): a canceller that loads this handle
    /// with acquire and then finds the slot active for its descriptor knows
    /// the handle is of a request on that descriptor. Possibly late: the
    /// request may have completed (and the slot been reused) before this store. A stale handle is harmless — the engine's
    /// handles carry a generation, so ``IOEngine/cancel(_:)`` answers
    /// `alreadyDone` for it and never touches another request — and aio_cancel
    /// reports a request whose handle is unknown or stale but whose aiocb is
    /// still in progress as `AIO_NOTCANCELED`.
    @inline(__always)
    func setHandle(_ slot: Int, _ raw: UInt64) {
        handles[slot].store(raw, ordering: .releasing)
    }

    /// The handle stored for `slot` (0: none yet); acquire, see ``setHandle(_:_:)``.
    @inline(__always)
    func handle(_ slot: Int) -> UInt64 { handles[slot].load(ordering: .acquiring) }

    /// True if `slot` holds a request on `fd` not yet completed (acquire).
    func isActive(_ slot: Int, fd: Int32) -> Bool { active[slot].load(ordering: .acquiring) == fd &+ 1 }

    /// The completer: the request is done (no longer listed for aio_cancel).
    @inline(__always)
    func deactivate(_ slot: Int) {
        active[slot].store(0, ordering: .relaxed)
    }

    /// Frees `slot` (release: the next claimer sees the owner's last writes done).
    @inline(__always)
    func release(_ slot: Int) {
        active[slot].store(0, ordering: .relaxed)
        handles[slot].store(0, ordering: .relaxed)
        bitmap[slot / 64].bitwiseAnd(~(UInt64(1) << UInt64(slot % 64)), ordering: .releasing)
    }

    /// Calls `body` with every slot whose request on `fd` is in flight
    /// (a scan of every taken slot; not a hot path).
    func forEachInFlight(fd: Int32, _ body: (Int) -> Void) {
        for word in 0..<words {
            var bits = bitmap[word].load(ordering: .acquiring)
            while bits != 0 {
                let bit = bits.trailingZeroBitCount
                bits &= bits - 1
                let slot = word * 64 + bit
                if slot < capacity && active[slot].load(ordering: .acquiring) == fd &+ 1 { body(slot) }
            }
        }
    }
}
