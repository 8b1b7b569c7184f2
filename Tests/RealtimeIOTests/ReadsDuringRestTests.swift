import CRealtimeIOShims
import Foundation
import SystemPackage
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Testing

/// One SCHED_FIFO worker on CPU 1 allowed 1 % real-time per 10 ms window with
/// a 1 s spin budget: under any load it rests ~99 % of the time, in 1 ms
/// slices it ends itself. A read submitted then would wait up to a slice.
private func restingConfiguration(readsDuringRest: Bool = true) throws -> EngineConfiguration {
    EngineConfiguration(
        groups: [.init(name: "rest", workers: 1, cpus: try CPUList(parsing: "1"), scheduling: .fifo(priority: 3))],
        ringCapacity: 8, requestsInFlight: 8, privilegePolicy: .required,
        spinBudget: .nanoseconds(1_000_000_000), realtimeSharePercent: 1, realtimeShareRest: .slices,
        realtimeShareRestSlice: .milliseconds(1), submitterReadsDuringRest: readsDuringRest)
}

/// Reaps exactly one completion (spinning, up to 10 s).
private func reapOne(_ engine: IOEngine) -> IOCompletion? {
    var got: IOCompletion?
    let deadline = rtio_monotonic_ns() &+ 10_000_000_000
    while got == nil && rtio_monotonic_ns() < deadline {
        _ = engine.reap(maximum: 1, rearm: false) { got = $0 }
    }
    return got
}

@Suite("Engine: reads during a rest", .serialized, .tags(.concurrency, .needsRoot))
struct ReadsDuringRestTests {
    /// The submitter runs a cached read itself (`preadv2(RWF_NOWAIT)`) while
    /// the worker sleeps in a rest with nothing queued: the completion comes
    /// through reap with `worker` nil, exactly once, with the file's bytes,
    /// and its slot is freed (200 reads through 8 slots).
    @Test("a read submitted while its worker rests is served by the submitter, once, with the data")
    func readDuringRestOnSubmitter() throws {
        let engine = try IOEngine(configuration: try restingConfiguration())
        defer { engine.shutdown() }
        let wakeup = engine.workers[0].ring.wakeup
        let file = try TemporaryFile(size: 64 * 1024)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { buffer.deallocate() }
        // Page the file in (a worker read), then wait for the first rest.
        try engine.submit(.read(file.fd, into: buffer, at: 0), tag: 999)
        let first = reapOne(engine)
        #expect(first?.result == 4096)
        #expect(waitUntil(seconds: 10) { wakeup.rests >= 1 })
        var bySubmitter = first?.worker == nil ? 1 : 0, byWorker = first?.worker == nil ? 0 : 1, wrong = 0
        for i in 0..<200 {
            let offset = Int64(i % 16) * 4096
            let handle = try engine.submit(.read(file.fd, into: buffer, at: offset), tag: UInt64(i))
            guard let c = reapOne(engine) else { Issue.record("read \(i) never completed"); return }
            #expect(c.tag == UInt64(i) && c.result == 4096)
            if buffer.load(fromByteOffset: 8, as: UInt64.self) != UInt64(offset + 8) { wrong += 1 }
            if c.worker == nil { bySubmitter += 1 } else { byWorker += 1 }
            // Done either way: a cancel finds nothing to withdraw.
            #expect(engine.cancel(handle) == .alreadyDone)
        }
        var extra = 0
        _ = engine.reap(rearm: false) { _ in extra += 1 }
        #expect(extra == 0, "exactly one completion per read")
        #expect(wrong == 0)
        #expect(bySubmitter >= 1, "no read ran on the submitter (\(byWorker) on the worker, \(wakeup.rests) rests)")
        #expect(engine.workerSnapshots()[0].completed == byWorker, "the worker's count leaves out the submitter's reads")
        // …which are counted apart: exactly, in the snapshot; and in the status file's
        // counters (rtio-admin), copied by the resting worker after its next slice.
        #expect(engine.workerSnapshots()[0].readsBySubmitters == bySubmitter)
        #expect(waitUntil(seconds: 10) { engine.workers[0].counters[.readsBySubmitters] == UInt64(bySubmitter) },
                "status counter \(engine.workers[0].counters[.readsBySubmitters]), want \(bySubmitter)")
        // Every slot came back: 8 slots, 200 reads, and 8 more at once now.
        for i in 0..<8 { try engine.submit(.read(file.fd, into: buffer, at: 0), tag: UInt64(1000 + i)) }
        #expect(reapAll(engine, count: 8).count == 8)
    }

    /// Order per worker: a write queued on the resting worker is not
    /// overtaken by a read of the same block from the same thread — the read
    /// finds the ring not empty and queues behind it.
    @Test("a read never overtakes this thread's write queued on the resting worker")
    func readAfterQueuedWriteSeesIt() throws {
        let engine = try IOEngine(configuration: try restingConfiguration())
        defer { engine.shutdown() }
        let wakeup = engine.workers[0].ring.wakeup
        let file = try TemporaryFile(size: 4096)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
        let into = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
        defer { out.deallocate(); into.deallocate() }
        #expect(waitUntil(seconds: 10) { wakeup.rests >= 1 })
        var stale = 0
        for i in 1...100 {
            out.storeBytes(of: UInt64(i), as: UInt64.self)
            try engine.submit(.write(file.fd, from: UnsafeRawBufferPointer(out), at: 0), tag: 0, placement: .worker(0))
            try engine.submit(.read(file.fd, into: into, at: 0), tag: 1, placement: .worker(0))
            let done = reapAll(engine, count: 2)
            #expect(done.count == 2 && done.allSatisfy { $0.result == 8 })
            if into.load(as: UInt64.self) != UInt64(i) { stale += 1 }
        }
        #expect(stale == 0, "\(stale) of 100 reads saw the block before the write queued ahead of them")
    }

    /// Turned off, every read waits for its worker.
    @Test("submitterReadsDuringRest false: every read runs on the worker")
    func offMeansWorker() throws {
        let engine = try IOEngine(configuration: try restingConfiguration(readsDuringRest: false))
        defer { engine.shutdown() }
        let wakeup = engine.workers[0].ring.wakeup
        let file = try TemporaryFile(size: 4096)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
        defer { buffer.deallocate() }
        #expect(waitUntil(seconds: 10) { wakeup.rests >= 1 })
        for i in 0..<20 {
            try engine.submit(.read(file.fd, into: buffer, at: 0), tag: UInt64(i))
            let c = reapOne(engine)
            #expect(c?.result == 8 && c?.worker == 0)
        }
        let json = String(decoding: try JSONEncoder().encode(try restingConfiguration(readsDuringRest: false)), as: UTF8.self)
        #expect(json.contains(#""submitterReadsDuringRest":false"#))
        let decoded = try JSONDecoder().decode(EngineConfiguration.self, from: Data(#"{"groups":[{"name":"g","workers":1}]}"#.utf8))
        #expect(decoded.submitterReadsDuringRest, "on by default")
    }
}

@Suite("Engine: reads during a rest, edges", .serialized, .tags(.concurrency, .needsRoot))
struct ReadsDuringRestEdgeTests {
    /// What the submitter's `RWF_NOWAIT` attempt does not finish goes to the
    /// worker unchanged: a short read (end of file), a pipe (`ESPIPE`), a
    /// closed descriptor (`EBADF`). Each completes once, from the worker, with
    /// what `pread` says; none is counted as a submitter's read.
    @Test("short reads, pipes and bad descriptors fall back to the worker with pread's answer")
    func fallbacks() throws {
        let engine = try IOEngine(configuration: try restingConfiguration())
        defer { engine.shutdown() }
        let wakeup = engine.workers[0].ring.wakeup
        let file = try TemporaryFile(size: 4096)
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8192, alignment: 4096)
        defer { buffer.deallocate() }
        #expect(waitUntil(seconds: 10) { wakeup.rests >= 1 })
        let before = engine.workerSnapshots()[0].readsBySubmitters
        let cases: [(FileDescriptor, Int)] = [
            (file.fd, 4096),                                   // 8192 asked, 4096 in the file
            (FileDescriptor(rawValue: fds[0]), -Int(ESPIPE)),  // pread on a pipe
            (FileDescriptor(rawValue: 1_000_000), -Int(EBADF)),
        ]
        for (i, (fd, want)) in cases.enumerated() {
            try engine.submit(.read(fd, into: buffer, at: 0), tag: UInt64(i))
            let c = reapOne(engine)
            #expect(c?.tag == UInt64(i) && c?.result == want && c?.worker == 0, "case \(i): \(String(describing: c))")
        }
        #expect(engine.workerSnapshots()[0].readsBySubmitters == before)
    }

    /// An O_DIRECT descriptor is never read on the submitter: `RWF_NOWAIT`
    /// would still send the read to the device and wait for it.
    @Test("an O_DIRECT read during a rest goes to the worker")
    func directGoesToWorker() throws {
        let engine = try IOEngine(configuration: try restingConfiguration())
        defer { engine.shutdown() }
        let file = try TemporaryFile(size: 8192)
        let direct = open(file.path, O_RDONLY | rtio_o_direct())
        try #require(direct >= 0, "O_DIRECT open of \(file.path): errno \(errno)")
        defer { close(direct) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { buffer.deallocate() }
        #expect(waitUntil(seconds: 10) { engine.workers[0].ring.wakeup.rests >= 1 })
        for i in 0..<20 {
            try engine.submit(.read(FileDescriptor(rawValue: direct), into: buffer, at: 4096), tag: UInt64(i))
            let c = reapOne(engine)
            #expect(c?.result == 4096 && c?.worker == 0, "read \(i): \(String(describing: c))")
            #expect(buffer.load(fromByteOffset: 8, as: UInt64.self) == 4096 + 8)
        }
        #expect(engine.workerSnapshots()[0].readsBySubmitters == 0)
    }

    /// Three submitting threads at once — one SCHED_FIFO on the worker's own
    /// CPU — while the worker rests: every read completes exactly once with
    /// its bytes, whoever ran it, and the counts add up.
    @Test("three submitters, one SCHED_FIFO on the worker's CPU: exactly once, right bytes")
    func threeSubmitters() throws {
        var config = try restingConfiguration()
        config.requestsInFlight = 64
        config.ringCapacity = 64
        let engine = try IOEngine(configuration: config)
        defer { engine.shutdown() }
        let file = try TemporaryFile(size: 64 * 1024)
        #expect(waitUntil(seconds: 10) { engine.workers[0].ring.wakeup.rests >= 1 })
        let perThread = 200, threads = 3
        let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: perThread * threads * 8, alignment: 8)
        defer { buffers.deallocate() }
        let fd = file.fd
        let base = UInt(bitPattern: buffers.baseAddress)  // each thread writes only its own cells
        let refused = SharedCounter()
        let attributes = [
            ThreadAttributes(cpus: [1], scheduling: .fifo(priority: 5), name: "rest-fifo"),
            ThreadAttributes(cpus: [0], name: "rest-a"), ThreadAttributes(name: "rest-b"),
        ]
        let submitters = try (0..<threads).map { t in
            try NativeThread.spawn(attributes: attributes[t]) {
                for i in 0..<perThread {
                    let tag = t * perThread + i
                    let into = UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(bitPattern: base + UInt(tag * 8)), count: 8)
                    var tries = 0
                    while true {
                        do {
                            try engine.submit(.read(fd, into: into, at: Int64(tag % 8192) * 8), tag: UInt64(tag))
                            break
                        } catch {
                            // .full while the reaper catches up: bounded, and sleeping (a FIFO thread must not spin).
                            tries += 1
                            if tries > 100_000 { refused.add(); break }
                            usleep(50)
                        }
                    }
                }
            }
        }
        var counts = [Int](repeating: 0, count: perThread * threads)
        var bySubmitter = 0
        let deadline = rtio_monotonic_ns() &+ 60_000_000_000
        var total = 0
        while total < perThread * threads && rtio_monotonic_ns() < deadline {
            total += engine.reap(rearm: false) { c in
                counts[Int(c.tag)] += 1
                if c.worker == nil { bySubmitter += 1 }
                #expect(c.result == 8)
            }
        }
        for s in submitters { s.join() }
        #expect(refused.value == 0)
        #expect(counts.allSatisfy { $0 == 1 }, "not exactly once: \(counts.enumerated().filter { $0.element != 1 }.prefix(5))")
        var wrong = 0
        for tag in 0..<(perThread * threads) where buffers.load(fromByteOffset: tag * 8, as: UInt64.self) != UInt64(tag % 8192) * 8 {
            wrong += 1
        }
        #expect(wrong == 0)
        #expect(engine.workerSnapshots()[0].readsBySubmitters == bySubmitter)
        #expect(engine.workerSnapshots()[0].completed == perThread * threads - bySubmitter)
    }
}
