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
/// Chains are keyed by the exact descriptor number (a ``DescriptorTable`` with
/// room for as many chains as request slots: each chain holds at least one).
///
/// ## Protocol
/// For the entry `e` of a descriptor, `head` (the table's `first`) is the
/// request handed to the engine and `tail` (`second`) the last queued;
/// `next[slot]` links a chain. An entry exists exactly while its chain is not
/// empty. All are read and written with `lock` held — the engine's on-demand
/// mode takes a mutex per submit and reap anyway; with preallocated workers
/// only streams come here.
final class DescriptorChains: @unchecked Sendable {
    private let lock = Mutex<Void>(())
    private let table: DescriptorTable
    private let head: UnsafeMutablePointer<Int32>
    private let tail: UnsafeMutablePointer<Int32>
    private let storage: CacheAlignedStorage
    private let next: UnsafeMutablePointer<Int32>

    init(slots: Int) {
        table = DescriptorTable(capacity: slots)
        head = table.first
        tail = table.second
        var layout = CacheLineLayout()
        let nextAt = layout.reserve(Int32.self, count: slots)
        storage = CacheAlignedStorage(byteCount: layout.byteCount)
        next = storage.initialize(count: slots, at: nextAt) { _ in -1 }
    }

    /// Appends `slot` to its descriptor's chain; true if it is the head (submit it now).
    func append(_ slot: Int, fd: Int32) -> Bool {
        lock.withLock { _ in
            next[slot] = -1
            if let e = table.find(fd) {
                next[Int(tail[e])] = Int32(slot)
                tail[e] = Int32(slot)
                return false
            }
            let e = table.insert(fd)
            head[e] = Int32(slot)
            tail[e] = Int32(slot)
            return true
        }
    }

    /// The head `slot` finished (or was never run): the next of its chain to submit, or nil.
    func finish(_ slot: Int, fd: Int32) -> Int? {
        lock.withLock { _ -> Int? in
            let n = next[slot]
            next[slot] = -1
            guard let e = table.find(fd) else { return nil }
            if n < 0 {
                table.remove(entry: e)
                return nil
            }
            head[e] = n
            return Int(n)
        }
    }

    /// True if `slot` heads `fd`'s chain (it runs, or is about to).
    func heads(_ slot: Int, fd: Int32) -> Bool {
        lock.withLock { _ in table.find(fd).map { head[$0] == Int32(slot) } ?? false }
    }

    /// Removes `slot` if it is queued behind its chain's head (not handed to the
    /// engine) and `matches()` — called with the lock held, so it may read the
    /// slot's request, which its submitter wrote before ``append(_:fd:)``; true
    /// if removed (the caller then owns the slot and completes it as cancelled).
    func remove(_ slot: Int, fd: Int32, if matches: () -> Bool = { true }) -> Bool {
        lock.withLock { _ in
            guard let e = table.find(fd) else { return false }
            var previous = head[e]
            guard previous != Int32(slot) else { return false }
            while previous >= 0 {
                let n = next[Int(previous)]
                if n == Int32(slot) {
                    guard matches() else { return false }
                    next[Int(previous)] = next[slot]
                    if tail[e] == Int32(slot) { tail[e] = previous }
                    next[slot] = -1
                    return true
                }
                previous = n
            }
            return false
        }
    }
}
