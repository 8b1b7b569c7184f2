// `io_uring`: swift-system's IORing (SystemPackage, Sources/System/IORing, public API on Linux
// when SystemPackage is built with its "Lifetimes" experimental feature, which its Package.swift
// enables). One ring per engine, created on the submitter thread in `start`, no setup flags
// (SQPOLL would add a kernel thread; SINGLE_ISSUER/DEFER_TASKRUN are left out to keep the
// baseline plain). Each `submitRead` prepares one IORING_OP_READ with an unregistered buffer and
// calls io_uring_enter to submit it. Page-cached reads normally complete inline during that
// enter (no io-wq worker); reads that would block are punted to `iou-wrk-*` threads, which the
// harness sees in /proc/self/task. Reaping reads the CQ ring directly; `wait` parks in
// io_uring_enter(GETEVENTS, min_complete 1).

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Holds the non-copyable ring so the engine class can mutate it in place.
private final class RingBox {
    var ring: IORing
    init(ring: consuming IORing) { self.ring = ring }
}

final class IOUringEngine: BenchEngine {
    let name = "io_uring"
    var skipReason: String? { nil }
    var threadsCreated: Int { 0 }
    var workerThreadIDs: [Int32] { [] }

    private var box: RingBox?
    private var fd = FileDescriptor(rawValue: -1)
    private var capacity = 0
    private var inFlight = 0

    init() {}

    func start(file: FileDescriptor, config: BenchEngineConfig) throws {
        fd = file
        capacity = max(1, config.queueDepth)
        var entries: UInt32 = 8
        while entries < UInt32(capacity) { entries <<= 1 }
        do {
            box = RingBox(ring: try IORing(queueDepth: entries))
        } catch {
            throw BenchEngineSkip("IORing(queueDepth: \(entries)) failed: \(error)")
        }
        inFlight = 0
    }

    @inline(__always)
    func submitRead(offset: Int64, buffer: UnsafeMutableRawPointer, length: Int, tag: UInt64) -> Bool {
        guard inFlight < capacity, let box else { return false }
        let request = IORing.Request.read(
            fd, into: UnsafeMutableRawBufferPointer(start: buffer, count: length),
            at: UInt64(offset), context: tag)
        guard box.ring.prepare(request: request) else { return false }
        do {
            try box.ring.submitPreparedRequests()
        } catch {
            // The SQE stays queued in the ring and goes with the next successful enter.
        }
        inFlight += 1
        return true
    }

    @inline(__always)
    private func drain(_ box: RingBox, _ body: (UInt64, Int) -> Void) -> Int {
        var delivered = 0
        while true {
            guard let completion = box.ring.tryConsumeCompletion() else { break }
            let tag = completion.context
            let result = Int(completion.result)
            inFlight -= 1
            delivered += 1
            body(tag, result)
        }
        return delivered
    }

    func reapCompletions(wait: Bool, _ body: (UInt64, Int) -> Void) -> Int {
        guard let box else { return 0 }
        var delivered = drain(box, body)
        while wait && delivered == 0 && inFlight > 0 {
            if let completion = try? box.ring.blockingConsumeCompletion() {
                let tag = completion.context
                let result = Int(completion.result)
                inFlight -= 1
                delivered += 1
                body(tag, result)
            }
            delivered += drain(box, body)
        }
        return delivered
    }

    func stop() {
        while inFlight > 0 { _ = reapCompletions(wait: true) { _, _ in } }
        box = nil
    }
}
