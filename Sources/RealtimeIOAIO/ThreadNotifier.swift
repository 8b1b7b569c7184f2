// SIGEV_THREAD delivery: a preallocated thread runs the notification functions.
import RealtimeIOLinux
import CRealtimeIOShims
import RealtimeIO
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// One preallocated thread that runs `SIGEV_THREAD` notification functions, in
/// the order they were queued, with every signal blocked.
///
/// glibc creates a thread per notification; this one exists from the
/// context's start, so a completion never creates a thread. When it cannot be
/// started, ``isRunning`` is false and submits asking for `SIGEV_THREAD` fail
/// with EAGAIN.
///
/// ## Queue
/// A fixed ring of `capacity` entries (function, value) and its head/tail in
/// a mutex; the lock is held for an index update and an entry copy only, never
/// while a function runs. An entry queued onto a full ring is dropped: the
/// ring is not tied to the in-flight slots (a slot is freed before its
/// notification is queued), so it stays within bounds only while the
/// functions keep up with completions.
///
/// ## Wake-up
/// ``enqueue(_:_:)`` bumps `word` (sequentially consistent) after queuing,
/// then wakes the thread. The thread loads `word` *before* it drains the ring
/// and sleeps while the word still holds that value: an entry queued after the
/// drain's last look has changed the word, so the sleep returns at once.
///
/// ## Ownership
/// Entries in [head, tail) belong to the queue; the thread copies one out
/// under the lock before it runs it. `word` is written by enqueuers only.
/// `thread` is written once, by ``start()``, before the context is published
/// to other threads.
final class ThreadNotifier: @unchecked Sendable {
    typealias Entry = (function: (@convention(c) (sigval) -> Void)?, value: sigval)

    let capacity: Int
    private let storage: CacheAlignedStorage
    private let queue: UnsafeMutablePointer<Entry>
    private let lock = Mutex<(head: Int, tail: Int)>((0, 0))
    private let word: UnsafeMutablePointer<Atomic<UInt32>>
    private var thread: NativeThread?

    init(capacity: Int) {
        self.capacity = capacity
        var layout = CacheLineLayout()
        let wordAt = layout.reserve(Atomic<UInt32>.self)
        let queueAt = layout.reserve(Entry.self, count: capacity)
        storage = CacheAlignedStorage(byteCount: layout.byteCount)
        word = storage.initialize(Atomic<UInt32>(0), at: wordAt)
        queue = storage.initialize(count: capacity, at: queueAt) { _ in (nil, sigval()) }
    }

    /// Starts the thread (once, before the context is published), born with
    /// `cpus` (the process's allowed CPUs), not the mask of the thread that
    /// made the first `aio_*` call; it inherits that thread's scheduling.
    func start(cpus: [Int]) throws(Errno) {
        thread = try NativeThread.spawn(attributes: ThreadAttributes(cpus: cpus, stackSize: 256 * 1024, name: "rtio-aio-notify")) {
            self.run()
        }
    }

    /// False when the thread could not be started.
    var isRunning: Bool { thread != nil }

    /// `word` as the futex word.
    private var futexWord: UnsafeMutablePointer<UInt32> {
        UnsafeMutableRawPointer(word).assumingMemoryBound(to: UInt32.self)
    }

    /// Queues `function(value)` and wakes the thread (called on worker threads).
    func enqueue(_ function: (@convention(c) (sigval) -> Void)?, _ value: sigval) {
        let queued = lock.withLock { q -> Bool in
            guard q.tail - q.head < capacity else { return false }
            queue[q.tail % capacity] = (function, value)
            q.tail += 1
            return true
        }
        guard queued else { return }  // full: dropped (see "Queue" above)
        word.pointee.add(1, ordering: .sequentiallyConsistent)
        _ = rtio_futex_wake(futexWord, 1)
    }

    private func run() {
        var set = sigset_t()
        sigfillset(&set)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        while true {
            let seen = word.pointee.load(ordering: .sequentiallyConsistent)
            while let item = lock.withLock({ q -> Entry? in
                guard q.head < q.tail else { return nil }
                let item = queue[q.head % capacity]
                q.head += 1
                return item
            }) {
                item.function?(item.value)
            }
            _ = rtio_futex_wait(futexWord, seen, -1)
        }
    }
}
