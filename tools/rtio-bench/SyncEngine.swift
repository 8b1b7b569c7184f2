// `sync`: pread(2) on the calling (submitter) thread. The floor: no handoff, no queue, no
// thread; "submit" is the whole read, and the completion is delivered on the next reap.

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

final class SyncEngine: BenchEngine {
    let name = "sync"
    var skipReason: String? { nil }
    var threadsCreated: Int { 0 }
    var workerThreadIDs: [Int32] { [] }

    private var fd: Int32 = -1
    // Completed-but-not-reaped reads: a preallocated FIFO sized to the queue depth.
    private var tags: UnsafeMutablePointer<UInt64>
    private var results: UnsafeMutablePointer<Int>
    private var capacity = 0
    private var head = 0
    private var count = 0

    init() {
        tags = .allocate(capacity: 1)
        results = .allocate(capacity: 1)
        capacity = 1
    }
    deinit {
        tags.deallocate()
        results.deallocate()
    }

    func start(file: FileDescriptor, config: BenchEngineConfig) throws {
        fd = file.rawValue
        tags.deallocate()
        results.deallocate()
        capacity = max(1, config.queueDepth)
        tags = .allocate(capacity: capacity)
        results = .allocate(capacity: capacity)
        head = 0
        count = 0
    }

    @inline(__always)
    func submitRead(offset: Int64, buffer: UnsafeMutableRawPointer, length: Int, tag: UInt64) -> Bool {
        guard count < capacity else { return false }
        var n = pread(fd, buffer, length, off_t(offset))
        if n < 0 { n = -Int(errno) }
        let slot = (head + count) % capacity
        tags[slot] = tag
        results[slot] = n
        count += 1
        return true
    }

    @inline(__always)
    func reapCompletions(wait: Bool, _ body: (UInt64, Int) -> Void) -> Int {
        let delivered = count
        while count > 0 {
            let slot = head
            head = (head + 1) % capacity
            count -= 1
            body(tags[slot], results[slot])
        }
        return delivered
    }

    func stop() { fd = -1 }
}
