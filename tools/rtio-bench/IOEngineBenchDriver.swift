#if canImport(Glibc)
import Glibc
#endif
import CRealtimeIOShims
import RealtimeIO
import SystemPackage

/// How the IOEngine-backed bench engines (`prealloc-*`, `ondemand`) submit
/// reads and collect completions, in one place so they are measured the same way.
///
/// Without waiting: one `reap(rearm: false)` (no syscall). Waiting: spin
/// `spinNanoseconds` on the submitter's CPU reaping without re-arming, then
/// loop `reap(rearm: true)` + `poll(completionFD)` — a reap that finds nothing
/// re-arms the eventfd first, so the poll cannot miss a completion.
struct IOEngineBenchDriver {
    /// Requests submitted and not yet reaped.
    private(set) var inFlight = 0
    var spinNanoseconds: UInt64

    init(spinNanoseconds: UInt64) { self.spinNanoseconds = spinNanoseconds }

    /// Submits one read; false (nothing queued) when the engine refuses it.
    @inline(__always)
    mutating func submitRead(
        _ engine: IOEngine, fd: FileDescriptor, offset: Int64, buffer: UnsafeMutableRawPointer, length: Int,
        tag: UInt64, placement: Placement
    ) -> Bool {
        do {
            try engine.submit(
                .read(fd, into: UnsafeMutableRawBufferPointer(start: buffer, count: length), at: offset),
                tag: tag, placement: placement)
        } catch {
            return false
        }
        inFlight += 1
        return true
    }

    mutating func reset() { inFlight = 0 }

    private mutating func reapOnce(_ engine: IOEngine, rearm: Bool, _ body: (UInt64, Int) -> Void) -> Int {
        let n = engine.reap(rearm: rearm) { completion in body(completion.tag, completion.result) }
        inFlight -= n
        return n
    }

    mutating func reap(_ engine: IOEngine, wait: Bool, _ body: (UInt64, Int) -> Void) -> Int {
        var delivered = reapOnce(engine, rearm: false, body)
        guard wait, delivered == 0, inFlight > 0 else { return delivered }
        if spinNanoseconds > 0 {
            let spinUntil = rtio_monotonic_ns() &+ spinNanoseconds
            repeat {
                rtio_cpu_relax()
                delivered = reapOnce(engine, rearm: false, body)
                if delivered > 0 { return delivered }
            } while rtio_monotonic_ns() < spinUntil
        }
        var pfd = pollfd(fd: engine.completionFD.rawValue, events: Int16(POLLIN), revents: 0)
        while true {
            delivered = reapOnce(engine, rearm: true, body)
            if delivered > 0 { return delivered }
            _ = poll(&pfd, 1, 100)
        }
    }

    /// Reaps until nothing is in flight (before shutting the engine down).
    mutating func drain(_ engine: IOEngine) {
        while inFlight > 0 { _ = reap(engine, wait: true) { _, _ in } }
    }
}
