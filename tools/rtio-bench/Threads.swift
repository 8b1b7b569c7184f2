// Real pthreads for submitters, hogs and engine workers, CPU pinning, /proc/self/task inspection,
// and the small lock-free pieces (futex parker, bounded MPSC completion queue) the baseline
// engines share.

#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import CRealtimeIOShims

/// Moves a non-Sendable value to another thread when the program's structure guarantees
/// there is no concurrent use (e.g. an engine handed to the submitter thread and used only there).
final class UnsafeTransfer<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// A joinable pthread running `body`, optionally pinned to `cpu` before `body` runs.
struct BenchThread {
    private var handle: pthread_t

    private final class Start {
        let body: () -> Void
        let cpu: Int32?
        init(body: @escaping () -> Void, cpu: Int32?) { self.body = body; self.cpu = cpu }
    }

    /// Spawns the thread. `body` runs on it; the closure is called exactly once.
    init(cpu: Int32?, _ body: @escaping @Sendable () -> Void) {
        let start = Unmanaged.passRetained(Start(body: body, cpu: cpu)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let start = Unmanaged<Start>.fromOpaque(arg!).takeRetainedValue()
            if let cpu = start.cpu { _ = pinCurrentThread(to: cpu) }
            start.body()
            return nil
        }, start)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        handle = tid
    }

    func join() { pthread_join(handle, nil) }

    /// Runs `body` on a fresh pthread (pinned to `cpu`) and waits for it: the way every hot loop
    /// of the bench leaves the main thread.
    static func run<R>(cpu: Int32?, _ body: @escaping () -> R) -> R {
        let box = UnsafeTransfer<R?>(nil)
        let work = UnsafeTransfer(body)
        let t = BenchThread(cpu: cpu) { box.value = work.value() }
        t.join()
        return box.value!
    }
}

/// Pins the calling thread to one CPU. Returns 0 or -errno.
@discardableResult
func pinCurrentThread(to cpu: Int32) -> Int32 {
    var set = rtio_cpu_set()
    rtio_cpuset_zero(&set)
    rtio_cpuset_add(&set, cpu)
    return rtio_sched_setaffinity_tid(0, &set)
}

/// Online CPUs.
func onlineCPUCount() -> Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

// MARK: /proc/self/task

/// Tids of all tasks (threads) of this process.
func currentTaskIDs() -> Set<Int32> {
    var result = Set<Int32>()
    guard let dir = opendir("/proc/self/task") else { return result }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if let tid = Int32(name) { result.insert(tid) }
    }
    return result
}

/// Number of tasks of this process (cheap enough for before/after counts).
func currentTaskCount() -> Int { currentTaskIDs().count }

/// Reads a small /proc file (not seekable files: read until EOF).
func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// `Cpus_allowed_list` and `Name` of a task of this process, nil if it has exited.
func taskInfo(_ tid: Int32) -> (name: String, cpusAllowed: String)? {
    guard let status = readSmallFile("/proc/self/task/\(tid)/status") else { return nil }
    var name = "?"
    var cpus = "?"
    for line in status.split(separator: "\n") {
        if line.hasPrefix("Name:") { name = line.dropFirst(5).trimmingCharacters() }
        if line.hasPrefix("Cpus_allowed_list:") { cpus = line.dropFirst(18).trimmingCharacters() }
    }
    return (name, cpus)
}

extension Substring {
    func trimmingCharacters() -> String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

// MARK: futex parker

/// One waiter (the submitter) parks on a futex word; any thread may wake it. Dekker-style:
/// the waiter announces itself (word = 1), re-checks its condition, then sleeps while the word
/// is still 1; a waker that published work resets the word and wakes only if someone announced.
final class FutexParker: @unchecked Sendable {
    private let word: UnsafeMutablePointer<UInt32>
    private var atomic: UnsafeMutablePointer<Atomic<UInt32>> {
        UnsafeMutableRawPointer(word).assumingMemoryBound(to: Atomic<UInt32>.self)
    }

    init() {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
        raw.initializeMemory(as: UInt32.self, repeating: 0, count: 16)
        word = raw.assumingMemoryBound(to: UInt32.self)
    }
    deinit { UnsafeMutableRawPointer(word).deallocate() }

    /// Waiter: sleeps until woken unless `ready()` is already true after announcing.
    func park(until ready: () -> Bool) {
        atomic.pointee.store(1, ordering: .sequentiallyConsistent)
        if ready() {
            atomic.pointee.store(0, ordering: .relaxed)
            return
        }
        while atomic.pointee.load(ordering: .sequentiallyConsistent) == 1 {
            _ = rtio_futex_wait(word, 1, 100_000_000)  // 100 ms cap: belt and braces
            if ready() { break }
        }
        atomic.pointee.store(0, ordering: .relaxed)
    }

    /// Waker: call after publishing work (the publish must be at least a release store).
    @inline(__always)
    func wakeIfParked() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if atomic.pointee.load(ordering: .relaxed) == 1 {
            if atomic.pointee.exchange(0, ordering: .sequentiallyConsistent) == 1 {
                _ = rtio_futex_wake(word, 1)
            }
        }
    }
}

// MARK: bounded MPSC queue of (tag, result)

/// Vyukov's bounded MPMC queue used as MPSC: any number of producer threads push completions,
/// the submitter pops them. Preallocated, allocation-free, lock-free.
final class CompletionQueue: @unchecked Sendable {
    // Cell layout (32 bytes): sequence UInt64 @0 (atomic), tag UInt64 @8, result Int @16.
    private static let stride = 32
    private let cells: UnsafeMutableRawPointer
    private let mask: UInt64
    private let counters: UnsafeMutableRawPointer  // enqueue at +0, dequeue at +64 (separate lines)

    init(capacity requested: Int) {
        var capacity = 2
        while capacity < requested { capacity <<= 1 }
        mask = UInt64(capacity - 1)
        cells = .allocate(byteCount: capacity * Self.stride, alignment: 64)
        cells.initializeMemory(as: UInt64.self, repeating: 0, count: capacity * Self.stride / 8)
        for i in 0..<capacity { cells.storeBytes(of: UInt64(i), toByteOffset: i * Self.stride, as: UInt64.self) }
        counters = .allocate(byteCount: 128, alignment: 64)
        counters.initializeMemory(as: UInt64.self, repeating: 0, count: 16)
    }
    deinit {
        cells.deallocate()
        counters.deallocate()
    }

    @inline(__always) private func cell(_ i: UInt64) -> UnsafeMutableRawPointer {
        cells + Int(i & mask) * Self.stride
    }
    @inline(__always) private func seq(_ i: UInt64) -> UnsafeMutablePointer<Atomic<UInt64>> {
        cell(i).assumingMemoryBound(to: Atomic<UInt64>.self)
    }
    @inline(__always) private var enqueuePos: UnsafeMutablePointer<Atomic<UInt64>> {
        counters.assumingMemoryBound(to: Atomic<UInt64>.self)
    }
    @inline(__always) private var dequeuePos: UnsafeMutablePointer<Atomic<UInt64>> {
        (counters + 64).assumingMemoryBound(to: Atomic<UInt64>.self)
    }

    /// Producer side. Returns false if full (cannot happen when capacity >= in-flight reads).
    @inline(__always)
    func push(tag: UInt64, result: Int) -> Bool {
        var pos = enqueuePos.pointee.load(ordering: .relaxed)
        while true {
            let s = seq(pos).pointee.load(ordering: .acquiring)
            if s == pos {
                let (ok, current) = enqueuePos.pointee.weakCompareExchange(
                    expected: pos, desired: pos &+ 1, ordering: .relaxed)
                if ok {
                    let c = cell(pos)
                    c.storeBytes(of: tag, toByteOffset: 8, as: UInt64.self)
                    c.storeBytes(of: result, toByteOffset: 16, as: Int.self)
                    seq(pos).pointee.store(pos &+ 1, ordering: .releasing)
                    return true
                }
                pos = current
            } else if s < pos &+ 1 {
                return false  // full
            } else {
                pos = enqueuePos.pointee.load(ordering: .relaxed)
            }
        }
    }

    /// Consumer side (single consumer).
    @inline(__always)
    func pop() -> (tag: UInt64, result: Int)? {
        let pos = dequeuePos.pointee.load(ordering: .relaxed)
        guard seq(pos).pointee.load(ordering: .acquiring) == pos &+ 1 else { return nil }
        let c = cell(pos)
        let value = (c.load(fromByteOffset: 8, as: UInt64.self), c.load(fromByteOffset: 16, as: Int.self))
        seq(pos).pointee.store(pos &+ mask &+ 1, ordering: .releasing)
        dequeuePos.pointee.store(pos &+ 1, ordering: .relaxed)
        return value
    }

    /// Whether a completion is ready (consumer side).
    @inline(__always)
    var hasItem: Bool {
        let pos = dequeuePos.pointee.load(ordering: .relaxed)
        return seq(pos).pointee.load(ordering: .acquiring) == pos &+ 1
    }
}
