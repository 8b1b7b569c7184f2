// SIGEV_THREAD delivery: preallocated threads run the notification functions.
import RealtimeIOLinux
import CRealtimeIOShims
import RealtimeIO
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A fixed set of preallocated threads (``DropInSettings/notifierThreads``,
/// default 4) that run `SIGEV_THREAD` notification functions, each with every
/// signal blocked.
///
/// glibc creates a thread per notification; these exist from the context's
/// start, so a completion never creates a thread. They are born with explicit
/// attributes: the process's allowed CPUs (not those of the thread that made
/// the first `aio_*` call), SCHED_OTHER as inherited, a 1 MiB stack, named
/// `rtio-aio-notify`. `sigev_notify_attributes` is not used. When none can be
/// started, ``isRunning`` is false and submits asking for `SIGEV_THREAD` fail
/// with EAGAIN.
///
/// ## Never lost
/// The queue holds *entries* — a request slot index, or ``RequestSlots``'s
/// capacity plus a lio_listio group index — and an entry's slot or group is
/// freed only after its function ran (``run``'s caller releases it). Each
/// slot and group is therefore queued at most once, and a ring of
/// `slots + groups` entries can never be full: every accepted notification
/// runs, however long the functions take. While functions lag behind, their
/// slots stay taken, so new submits meet EAGAIN (resource exhaustion) instead
/// of notifications being dropped. A function that blocks holds one thread;
/// the others keep draining the queue.
///
/// ## Queue and wake-up
/// A ring and its head/tail in a mutex held for an index update only, never
/// while a function runs. ``enqueue(_:)`` bumps `word` (sequentially
/// consistent) after queuing, then wakes one thread. A thread loads `word`
/// *before* it looks at the ring and sleeps while the word still holds that
/// value: an entry queued after its last look has changed the word, so the
/// sleep returns at once.
///
/// ## Ownership
/// Entries in [head, tail) belong to the queue; a thread takes one out under
/// the lock before it runs it. `word` is written by enqueuers only. `threads`
/// is written by ``start(count:cpus:run:)`` before the context is published.
final class ThreadNotifier: @unchecked Sendable {
    let capacity: Int
    private let storage: CacheAlignedStorage
    private let queue: UnsafeMutablePointer<Int32>
    private let lock = Mutex<(head: Int, tail: Int)>((0, 0))
    private let word: UnsafeMutablePointer<Atomic<UInt32>>
    private var threads: [NativeThread] = []
    private var handler: (@Sendable (Int32) -> Void)?

    init(capacity: Int) {
        self.capacity = capacity
        var layout = CacheLineLayout()
        let wordAt = layout.reserve(Atomic<UInt32>.self)
        let queueAt = layout.reserve(Int32.self, count: capacity)
        storage = CacheAlignedStorage(byteCount: layout.byteCount)
        word = storage.initialize(Atomic<UInt32>(0), at: wordAt)
        queue = storage.initialize(count: capacity, at: queueAt) { _ in -1 }
    }

    /// Starts `count` threads (once, before the context is published) that
    /// call `run` with each entry. Returns how many started; the first error
    /// if none did.
    func start(count: Int, cpus: [Int], run: @escaping @Sendable (Int32) -> Void) throws(Errno) -> Int {
        handler = run
        var firstError: Errno?
        for _ in 0..<count {
            do {
                let t = try NativeThread.spawn(
                    attributes: ThreadAttributes(cpus: cpus, stackSize: 1 << 20, name: "rtio-aio-notify")) { self.loop() }
                threads.append(t)
            } catch {
                firstError = firstError ?? error
            }
        }
        if threads.isEmpty, let firstError { throw firstError }
        return threads.count
    }

    /// False when no thread could be started.
    var isRunning: Bool { !threads.isEmpty }

    private var futexWord: UnsafeMutablePointer<UInt32> {
        UnsafeMutableRawPointer(word).assumingMemoryBound(to: UInt32.self)
    }

    /// Queues `entry` and wakes a thread (worker threads, lio_listio's submitter).
    /// Never fails: see "Never lost".
    func enqueue(_ entry: Int32) {
        lock.withLock { q in
            precondition(q.tail - q.head < capacity, "rtio-aio: notification queue overflow (an entry queued twice)")
            queue[q.tail % capacity] = entry
            q.tail += 1
        }
        word.pointee.add(1, ordering: .sequentiallyConsistent)
        _ = rtio_futex_wake(futexWord, 1)
    }

    private func loop() {
        var set = sigset_t()
        sigfillset(&set)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let run = handler!
        while true {
            let seen = word.pointee.load(ordering: .sequentiallyConsistent)
            while let entry = lock.withLock({ q -> Int32? in
                guard q.head < q.tail else { return nil }
                let entry = queue[q.head % capacity]
                q.head += 1
                return entry
            }) {
                run(entry)
            }
            _ = rtio_futex_wait(futexWord, seen, -1)
        }
    }
}
