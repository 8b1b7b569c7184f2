// On-demand mode: per-descriptor order without preallocated workers.
import RealtimeIO
import Synchronization

/// One chain of requests per descriptor: only its head is handed to the engine;
/// each completion hands over the next. Used for every request when the engine
/// has no preallocated worker (on-demand mode), where `.worker(i)` placement,
/// which gives the order otherwise, does not exist; and, with preallocated
/// workers, for the streams they hand to the stream threads
/// (``AIOContext/handToStreamThreads(_:)``).
///
/// Like glibc, a descriptor then has one request running at a time, in
/// submission order, and requests of different descriptors run on different
/// on-demand workers — a read blocked on a pipe does not hold back the write
/// on the pipe's other end.
///
/// Chains are keyed by `fd & (keys - 1)`: two descriptors whose numbers differ
/// by a multiple of 65 536 share one chain (ordered together; correct, less
/// parallel).
///
/// ## Protocol
/// `head[k]` is the request of key `k` handed to the engine (-1: none),
/// `tail[k]` the last queued; `next[slot]` links a chain. All are read and
/// written with `lock` held — the engine's on-demand mode takes a mutex per
/// submit and reap anyway; with preallocated workers only streams come here.
final class DescriptorChains: @unchecked Sendable {
    static let keys = 1 << 16
    private let lock = Mutex<Void>(())
    private let storage: CacheAlignedStorage
    private let head: UnsafeMutablePointer<Int32>
    private let tail: UnsafeMutablePointer<Int32>
    private let next: UnsafeMutablePointer<Int32>

    init(slots: Int) {
        var layout = CacheLineLayout()
        let headAt = layout.reserve(Int32.self, count: Self.keys)
        let tailAt = layout.reserve(Int32.self, count: Self.keys)
        let nextAt = layout.reserve(Int32.self, count: slots)
        storage = CacheAlignedStorage(byteCount: layout.byteCount)
        head = storage.initialize(count: Self.keys, at: headAt) { _ in -1 }
        tail = storage.initialize(count: Self.keys, at: tailAt) { _ in -1 }
        next = storage.initialize(count: slots, at: nextAt) { _ in -1 }
    }

    @inline(__always)
    private static func key(_ fd: Int32) -> Int { Int(UInt32(bitPattern: fd)) & (keys - 1) }

    /// Appends `slot` to its descriptor's chain; true if it is the head (submit it now).
    func append(_ slot: Int, fd: Int32) -> Bool {
        let k = Self.key(fd)
        return lock.withLock { _ in
            next[slot] = -1
            if head[k] < 0 {
                head[k] = Int32(slot)
                tail[k] = Int32(slot)
                return true
            }
            next[Int(tail[k])] = Int32(slot)
            tail[k] = Int32(slot)
            return false
        }
    }

    /// The head `slot` finished (or was never run): the next of its chain to submit, or nil.
    func finish(_ slot: Int, fd: Int32) -> Int? {
        let k = Self.key(fd)
        return lock.withLock { _ -> Int? in
            let n = next[slot]
            next[slot] = -1
            if n < 0 {
                head[k] = -1
                tail[k] = -1
                return nil
            }
            head[k] = n
            return Int(n)
        }
    }

    /// Removes `slot` if it is queued behind its chain's head (not handed to the
    /// engine) and `matches()` — called with the lock held, so it may read the
    /// slot's request, which its submitter wrote before ``append(_:fd:)``; true
    /// if removed (the caller then owns the slot and completes it as cancelled).
    /// True if `slot` heads `fd`'s chain (it runs, or is about to).
    func heads(_ slot: Int, fd: Int32) -> Bool {
        let k = Self.key(fd)
        return lock.withLock { _ in head[k] == Int32(slot) }
    }

    func remove(_ slot: Int, fd: Int32, if matches: () -> Bool = { true }) -> Bool {
        let k = Self.key(fd)
        return lock.withLock { _ in
            var previous = head[k]
            guard previous >= 0, previous != Int32(slot) else { return false }
            while previous >= 0 {
                let n = next[Int(previous)]
                if n == Int32(slot) {
                    guard matches() else { return false }
                    next[Int(previous)] = next[slot]
                    if tail[k] == Int32(slot) { tail[k] = previous }
                    next[slot] = -1
                    return true
                }
                previous = n
            }
            return false
        }
    }
}
