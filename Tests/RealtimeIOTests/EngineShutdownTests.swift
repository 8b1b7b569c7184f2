import CMallocCounter
import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

@Suite("Engine: shutdown", .serialized, .tags(.concurrency))
struct EngineShutdownTests {
    @Test("shutdown with 10⁴ queued: every tag completes exactly once", arguments: [ShutdownMode.drain, .cancel])
    func shutdownQueued(mode: ShutdownMode) throws {
        let queued = 10_000
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, ring: 16_384, slots: 16_384))
        let file = try TemporaryFile(size: 4096)
        let releaseMemory = UnsafeMutablePointer<Atomic<Bool>>.allocate(capacity: 1)
        releaseMemory.initialize(to: Atomic(false))
        defer { releaseMemory.deallocate() }
        let release = SendablePointer(releaseMemory)
        try engine.submit(.custom(blockUntilReleased, context: UnsafeMutableRawPointer(releaseMemory)), tag: 0)
        #expect(waitUntil(seconds: 2) { engine.workerSnapshots()[0].state == "busy" })
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 64)
        defer { buffer.deallocate() }
        for tag in 1...queued {
            try engine.submit(.read(file.fd, into: buffer, at: 0), tag: UInt64(tag))
        }
        let releaser = startThread { usleep(100_000); release.pointee.pointee.store(true, ordering: .releasing) }
        engine.shutdown(mode)
        releaser.join()
        #expect(throws: SubmitError.shutDown) { try engine.submit(.fsync(file.fd), tag: 99_999) }
        var seen = [Int](repeating: 0, count: queued + 1)
        var cancelled = 0
        var ok = 0
        while engine.reap({ c in
            seen[Int(c.tag)] += 1
            if c.result == -Int(ECANCELED) { cancelled += 1 } else if c.result >= 0 { ok += 1 }
        }) > 0 {}
        #expect(seen.allSatisfy { $0 == 1 }, "tags not completed exactly once: \(seen.enumerated().filter { $0.element != 1 }.prefix(5))")
        switch mode {
        case .drain:
            #expect(ok == queued + 1)
        case .cancel:
            #expect(cancelled == queued, "queued requests complete with ECANCELED")
            #expect(ok == 1, "the running request finishes normally")
        }
        #expect(threadCount() > 0)
    }

    @Test("shutdown joins the threads; the eventfd stays open and readable while the engine lives")
    func resourcesReleased() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 3))
        let fd = engine.completionFD.rawValue
        // This engine's threads by tid: other suites start and end threads in parallel,
        // so the process's thread count says nothing about this engine.
        func running(_ tid: pid_t) -> Bool { FileManager.default.fileExists(atPath: "/proc/self/task/\(tid)") }
        let workers = engine.workerThreadIDs
        #expect(workers.count == 3)
        #expect(workers.allSatisfy(running))
        engine.shutdown()
        // Joined. pthread_join returns when the kernel clears the thread's tid word, just
        // before the task is unhashed: its /proc entry can outlive the join for a moment.
        #expect(waitUntil(seconds: 5) { !workers.contains(where: running) })
        // The eventfd outlives shutdown (a reap racing it must never read a closed or
        // recycled descriptor): readable, and reap finds nothing. It is closed when the
        // engine is released (not checked here: parallel suites may reuse the number).
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        #expect(poll(&pfd, 1, 0) == 1 && pfd.revents & Int16(POLLIN) != 0, "readable after shutdown")
        #expect(engine.reap { _ in } == 0)
        #expect(fcntl(fd, F_GETFD) != -1, "still open while the engine lives")
        engine.shutdown()  // idempotent
    }
}
