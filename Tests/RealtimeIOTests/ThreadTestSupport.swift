import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization

/// A shared integer for test threads.
final class SharedCounter: Sendable {
    let atomic = Atomic<Int>(0)
    var value: Int { atomic.load(ordering: .acquiring) }
    func add(_ n: Int = 1) { atomic.add(n, ordering: .acquiringAndReleasing) }
    func store(_ n: Int) { atomic.store(n, ordering: .releasing) }
}

/// A shared flag for test threads.
final class SharedFlag: Sendable {
    let atomic = Atomic<Bool>(false)
    var isSet: Bool { atomic.load(ordering: .acquiring) }
    func set() { atomic.store(true, ordering: .releasing) }
}

/// Thread-safe list of failure messages collected on worker threads and
/// reported by the test thread (Swift Testing's #expect is fine off the main
/// thread, but collecting keeps hot loops free of it).
final class FailureLog: Sendable {
    private let messages = Mutex<[String]>([])
    func record(_ message: String) { messages.withLock { $0.append(message) } }
    var all: [String] { messages.withLock { $0 } }
}

/// Spawns a real pthread (no async tasks for spinning producers).
@discardableResult
func startThread(name: String? = nil, _ body: @escaping @Sendable () -> Void) -> NativeThread {
    try! NativeThread.spawn(attributes: ThreadAttributes(name: name), body)
}

/// Scales loop counts down under ThreadSanitizer (RTIO_TSAN=1 in .ci/run),
/// which slows atomics-heavy code by 10-50×.
func scaled(_ n: Int, tsanDivisor: Int = 10) -> Int {
    ProcessInfo.processInfo.environment["RTIO_TSAN"] == "1" ? max(1, n / tsanDivisor) : n
}

/// Polls `condition` until true or `seconds` elapse.
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = rtio_monotonic_ns() + UInt64(seconds * 1e9)
    while rtio_monotonic_ns() < deadline {
        if condition() { return true }
        usleep(100)
    }
    return condition()
}

/// `waitUntil` for async tests: sleeps the task between checks instead of
/// blocking its thread. Swift Testing runs async tests on the cooperative pool
/// (2 threads here); a test that blocks one while a task it waits for needs
/// the pool can starve it (and, with another blocked test, deadlock).
func pollUntil(seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = rtio_monotonic_ns() + UInt64(seconds * 1e9)
    while rtio_monotonic_ns() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return condition()
}

/// An unsafe pointer shared with test threads; the test owns the memory and
/// joins the threads before freeing it.
struct SendablePointer<T: ~Copyable>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
    init(_ base: UnsafeMutablePointer<T>) { self.base = base }
    subscript(i: Int) -> UnsafeMutablePointer<T> { base + i }
    var pointee: UnsafeMutablePointer<T> { base }
}

/// CPU time the calling thread has used, in ns (CLOCK_THREAD_CPUTIME_ID).
func threadCPUTime() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
