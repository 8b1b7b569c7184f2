import CRealtimeIOShims
import Foundation
import Synchronization
import SystemPackage
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Testing

/// One worker on CPU 1 with its own io_uring (`inFlight`), parking at once
/// when idle so a test can catch it asleep with requests in the kernel.
private func inFlightConfiguration(
    inFlight: Int, workers: Int = 1, slots: Int = 32, spin: Duration = .zero
) throws -> EngineConfiguration {
    EngineConfiguration(
        groups: [.init(name: "fly", workers: workers, cpus: try CPUList(parsing: "1"), inFlight: inFlight)],
        ringCapacity: 32, requestsInFlight: slots, privilegePolicy: .required, spinBudget: spin)
}

/// A pipe whose read end a test reads through the engine.
private struct Pipe {
    let read: FileDescriptor
    let write: FileDescriptor
    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw Errno(rawValue: errno) }
        read = FileDescriptor(rawValue: fds[0])
        write = FileDescriptor(rawValue: fds[1])
    }
    func close() {
        try? read.close()
        try? write.close()
    }
}

/// Reaps whatever is ready without waiting.
private func reapReady(_ engine: IOEngine) -> [IOCompletion] {
    var all: [IOCompletion] = []
    _ = engine.reap(rearm: false) { all.append($0) }
    return all
}

@Suite("Engine: requests in flight through a worker's io_uring", .serialized)
struct InFlightTests {
    /// Four reads of empty pipes sit in one worker's io_uring at once; the
    /// worker, asleep in `io_uring_enter`, is woken by a submit (the FUTEX_WAIT
    /// armed on its wake-up word) and serves a file read meanwhile. With
    /// `inFlight: 1` the first pipe read would hold the worker and the file
    /// read would never complete. Then the pipes are written in reverse order
    /// and each read completes once, with its own byte.
    @Test("one worker: four reads blocked on pipes stay in flight, and a submit wakes it for a file read",
          .tags(.concurrency, .needsRoot))
    func blockedReadsDoNotHoldTheWorker() throws {
        let engine = try IOEngine(configuration: try inFlightConfiguration(inFlight: 8))
        defer { engine.shutdown(.cancel) }
        #expect(engine.degradations.isEmpty, "\(engine.degradations)")
        #expect(engine.workers[0].ioRingCapacity == 8)
        // rtio-admin's view: the depth asked for, in the status file.
        let published = try StatusFile.open(pid: getpid()).flatMap(\.workers).filter { $0.name == "rtio-fly-0" }
        #expect(published.map(\.requestedInFlight) == [8])
        let pipes = try (0..<4).map { _ in try Pipe() }
        defer { pipes.forEach { $0.close() } }
        let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: 8 * 4096, alignment: 4096)
        defer { buffers.deallocate() }
        for (i, p) in pipes.enumerated() {
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffers[(i * 4096)..<(i * 4096 + 16)])
            try engine.submit(.read(p.read, into: slice, at: 0), tag: UInt64(i), placement: .worker(0))
        }
        // The worker took all four and sleeps with them in the kernel.
        let wakeup = engine.workers[0].ring.wakeup
        #expect(waitUntil(seconds: 10) { wakeup.isParked }, "the worker never slept with the reads in flight")
        #expect(reapReady(engine).isEmpty, "a pipe read completed with nothing written")
        #expect(engine.workerSnapshots()[0].inFlight == 4)

        let file = try TemporaryFile(size: 64 * 1024)
        let fileBuffer = UnsafeMutableRawBufferPointer(rebasing: buffers[(5 * 4096)..<(6 * 4096)])
        let wakesBefore = wakeup.wakeSyscalls
        try engine.submit(.read(file.fd, into: fileBuffer, at: 8192), tag: 10, placement: .worker(0))
        let fileRead = reapAll(engine, count: 1)
        #expect(fileRead.map(\.tag) == [10], "the file read did not complete while four pipe reads blocked")
        #expect(fileRead.first?.result == 4096)
        #expect(fileBuffer.load(fromByteOffset: 8, as: UInt64.self) == 8192 + 8)
        #expect(wakeup.wakeSyscalls == wakesBefore + 1, "the sleeping worker was not woken by the submit, once")

        for i in (0..<4).reversed() {
            var byte = UInt8(0xA0 + i)
            #expect(write(pipes[i].write.rawValue, &byte, 1) == 1)
        }
        let reads = reapAll(engine, count: 4)
        #expect(Set(reads.map(\.tag)) == [0, 1, 2, 3])
        for c in reads {
            #expect(c.result == 1, "pipe read \(c.tag): \(c.result)")
            #expect(buffers[Int(c.tag) * 4096] == UInt8(0xA0 + Int(c.tag)))
        }
        #expect(reapReady(engine).isEmpty, "exactly one completion per read")
        #expect(engine.workerSnapshots()[0].completed == 5)
        #expect(waitUntil(seconds: 10) { engine.workerSnapshots()[0].inFlight == 0 })
        // Published after each submit and reap: the cached file read may complete inside its submit.
        #expect((4...5).contains(engine.workerSnapshots()[0].maxInFlight))
    }

    /// Every operation the ring carries, and a custom call it does not, give
    /// the same results and the same file as one blocking request at a time.
    @Test("every operation through the ring gives what blocking calls give", .tags(.needsRoot))
    func everyOperationMatchesBlockingMode() throws {
        func run(inFlight: Int) throws -> (results: [Int], bytes: [UInt8]) {
            let engine = try IOEngine(configuration: try inFlightConfiguration(inFlight: inFlight))
            defer { engine.shutdown() }
            #expect(engine.degradations.isEmpty, "\(engine.degradations)")
            let file = try TemporaryFile()
            let data = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 4096)
            defer { data.deallocate() }
            for i in 0..<16384 { data[i] = UInt8(truncatingIfNeeded: i &* 7 &+ inFlight &* 0) }
            let back = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 4096)
            defer { back.deallocate() }
            back.initializeMemory(as: UInt8.self, repeating: 0)
            var inlineIOV = [iovec(iov_base: data.baseAddress! + 100, iov_len: 50),
                             iovec(iov_base: data.baseAddress! + 1000, iov_len: 3000)]
            // Five iovecs: more than a record holds inline, so the caller's array is used.
            var outIOV = (0..<5).map { iovec(iov_base: back.baseAddress! + 8192 + $0 * 512, iov_len: 512) }
            let custom: CustomBlockingCall = { _ in 42 }
            var results: [Int] = []
            func one(_ request: IORequest) throws {
                try engine.submit(request, tag: UInt64(results.count))
                let c = reapAll(engine, count: 1)
                results.append(c.first?.result ?? -9999)
            }
            try one(.write(file.fd, from: UnsafeRawBufferPointer(data), at: 0))
            try inlineIOV.withUnsafeMutableBufferPointer { try one(.writev(file.fd, UnsafeBufferPointer($0), at: 20000)) }
            try one(.fsync(file.fd))
            try one(.fdatasync(file.fd))
            try one(.fallocate(file.fd, .allocateKeepSize, at: 0, length: 65536))
            try one(.fallocate(file.fd, .punchHole, at: 4096, length: 4096))
            try one(.read(file.fd, into: UnsafeMutableRawBufferPointer(rebasing: back[0..<8192]), at: 0))
            try outIOV.withUnsafeMutableBufferPointer { try one(.readv(file.fd, UnsafeBufferPointer($0), at: 19990)) }
            // Past the end: short (the rest is EOF), then nothing.
            try one(.read(file.fd, into: UnsafeMutableRawBufferPointer(rebasing: back[0..<100]), at: 23030))
            try one(.read(file.fd, into: UnsafeMutableRawBufferPointer(rebasing: back[100..<200]), at: 1 << 20))
            try one(.custom(custom, context: nil))
            // A descriptor that is not open.
            try one(.read(FileDescriptor(rawValue: 1_000_000), into: UnsafeMutableRawBufferPointer(rebasing: back[0..<10]), at: 0))
            let size = try file.fd.seek(offset: 0, from: .end)
            var bytes = [UInt8](repeating: 0, count: Int(size))
            _ = try bytes.withUnsafeMutableBytes { try file.fd.read(fromAbsoluteOffset: 0, into: $0) }
            return (results, bytes + Array(back))
        }
        let blocking = try run(inFlight: 1)
        let ring = try run(inFlight: 8)
        #expect(blocking.results == [16384, 3050, 0, 0, 0, 0, 8192, 2560, 20, 0, 42, -Int(EBADF)])
        #expect(ring.results == blocking.results)
        #expect(ring.bytes == blocking.bytes)
    }

    /// `shutdown(.cancel)` with reads blocked in the kernel: the worker cancels
    /// them (IORING_OP_ASYNC_CANCEL), each completes exactly once with
    /// ECANCELED, and shutdown returns — it would wait for ever otherwise.
    /// Once with the worker asleep in `io_uring_enter`; once while it spins
    /// (spin budget 1 s) — shutdown's wake-up then finds it awake, and only its
    /// own re-check after announcing the sleep keeps it from sleeping for ever.
    @Test("shutdown(.cancel) cancels reads blocked in the worker's io_uring, each once, asleep or spinning",
          .tags(.concurrency, .needsRoot), arguments: [false, true])
    func cancelShutdownCancelsInFlight(whileSpinning: Bool) throws {
        let engine = try IOEngine(configuration: try inFlightConfiguration(
            inFlight: 4, spin: whileSpinning ? .seconds(1) : .zero))
        let pipes = try (0..<3).map { _ in try Pipe() }
        defer { pipes.forEach { $0.close() } }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 3 * 64, alignment: 64)
        defer { buffer.deallocate() }
        for (i, p) in pipes.enumerated() {
            try engine.submit(.read(p.read, into: UnsafeMutableRawBufferPointer(rebasing: buffer[(i * 64)..<(i * 64 + 64)]), at: 0), tag: UInt64(i))
        }
        if whileSpinning {
            // In the kernel, the worker spinning for up to 1 s: shut down now.
            #expect(waitUntil(seconds: 10) { engine.workerSnapshots()[0].inFlight == 3 })
        } else {
            #expect(waitUntil(seconds: 10) { engine.workers[0].ring.wakeup.isParked })
        }
        let done = SharedFlag()
        let stopper = startThread(name: "fly-stop") { engine.shutdown(.cancel); done.set() }
        let returned = waitUntil(seconds: 20) { done.isSet }
        #expect(returned, "shutdown(.cancel) did not return with reads blocked in the kernel")
        if !returned {
            // Unblock the reads so the test process can go on.
            for p in pipes { var b = UInt8(1); _ = write(p.write.rawValue, &b, 1) }
        }
        stopper.join()
        let completions = reapReady(engine)
        #expect(completions.count == 3, "\(completions)")
        #expect(Set(completions.map(\.tag)) == [0, 1, 2])
        #expect(completions.allSatisfy { $0.result == -Int(ECANCELED) }, "\(completions)")
    }

    /// A worker that has moved its requests into its io_uring has an empty
    /// queue and nothing "in service", yet it is not idle. Four least-loaded
    /// reads of empty pipes, each submitted once the previous one is in a
    /// kernel: worker 0 takes the first, worker 1 (idle) the second, the tie
    /// at one each goes to worker 0, the fourth to worker 1. Placement blind
    /// to the io_uring sends all four to worker 0, which looks idle each time.
    @Test("least-loaded placement counts the requests in a worker's io_uring", .tags(.concurrency, .needsRoot))
    func placementCountsRequestsInKernel() throws {
        let engine = try IOEngine(configuration: try inFlightConfiguration(inFlight: 4, workers: 2, slots: 16))
        defer { engine.shutdown(.cancel) }
        #expect(engine.degradations.isEmpty, "\(engine.degradations)")
        let group = try #require(engine.group(named: "fly"))
        let pipes = try (0..<4).map { _ in try Pipe() }
        defer { pipes.forEach { $0.close() } }
        let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 * 64, alignment: 64)
        defer { buffers.deallocate() }
        for (i, p) in pipes.enumerated() {
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffers[(i * 64)..<(i * 64 + 16)])
            try engine.submit(.read(p.read, into: slice, at: 0), tag: UInt64(i), placement: .leastLoadedIn(group))
            // In a kernel, as placement sees it, before the next placement.
            #expect(waitUntil(seconds: 10) {
                engine.workers.map { $0.ring.requestsInKernel }.reduce(0, +) == i + 1
            }, "read \(i) never reached a worker's io_uring")
        }
        #expect(engine.workers.map { $0.ring.requestsInKernel } == [2, 2])
        for (i, p) in pipes.enumerated() {
            var byte = UInt8(0xB0 + i)
            #expect(write(p.write.rawValue, &byte, 1) == 1)
        }
        let reads = reapAll(engine, count: 4).sorted { $0.tag < $1.tag }
        #expect(reads.map(\.tag) == [0, 1, 2, 3])
        #expect(reads.map(\.worker) == [0, 1, 0, 1], "placement: \(reads.map(\.worker))")
        #expect(reads.allSatisfy { $0.result == 1 })
        #expect(waitUntil(seconds: 10) { engine.workers.allSatisfy { $0.ring.requestsInKernel == 0 } })
    }

    /// Three threads submit 300 verified reads each to two workers that keep
    /// four in flight apiece: every read completes exactly once with its bytes.
    @Test("three submitting threads, two in-flight workers: every read once, with its data", .tags(.concurrency, .needsRoot))
    func manySubmittersExactlyOnce() throws {
        let engine = try IOEngine(configuration: try inFlightConfiguration(inFlight: 4, workers: 2, slots: 16))
        defer { engine.shutdown() }
        let file = try TemporaryFile(size: 1 << 20)
        let perThread = scaled(300)
        let total = 3 * perThread
        let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: total * 512, alignment: 4096)
        defer { buffers.deallocate() }
        let submitted = SharedCounter()
        let failures = FailureLog()
        let base = UInt(bitPattern: buffers.baseAddress!)
        let fd = file.fd
        let threads = (0..<3).map { (t: Int) -> NativeThread in
            startThread(name: "fly-\(t)") {
                for i in 0..<perThread {
                    let tag = t * perThread + i
                    let offset = Int64((tag * 4096) % (1 << 20))
                    let slice = UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(bitPattern: base + UInt(tag * 512)), count: 512)
                    var tries = 0
                    while true {
                        do {
                            try engine.submit(.read(fd, into: slice, at: offset), tag: UInt64(tag))
                            break
                        } catch SubmitError.full {
                            // The reaper catches up; bounded, sleeping.
                            tries += 1
                            if tries > 200_000 { failures.record("submit \(tag): still full"); return }
                            usleep(20)
                        } catch {
                            failures.record("submit \(tag): \(error)")
                            return
                        }
                    }
                    submitted.add()
                }
            }
        }
        let all = reapAll(engine, count: total, seconds: 60)
        #expect(all.count == total)
        #expect(Set(all.map(\.tag)).count == total, "a read completed twice or not at all")
        #expect(all.allSatisfy { $0.result == 512 })
        var wrong = 0
        for tag in 0..<total {
            let offset = UInt64((tag * 4096) % (1 << 20))
            if buffers.load(fromByteOffset: tag * 512 + 8, as: UInt64.self) != offset + 8 { wrong += 1 }
        }
        #expect(wrong == 0)
        #expect(reapReady(engine).isEmpty)
        threads.forEach { $0.join() }
        #expect(failures.all.isEmpty, "\(failures.all)")
        #expect(submitted.value == total)
    }

    /// The footprint counts each worker's io_uring mappings as the kernel makes
    /// them: the bytes of this process's `[io_uring]` mappings grow by exactly
    /// the footprint's part when an engine with two in-flight workers starts.
    @Test("the footprint's worker io_urings are the mappings the kernel makes", .tags(.needsRoot))
    func footprintMatchesMappings() throws {
        func ioUringMappedBytes() throws -> Int {
            let maps = try KernelFile.contents(of: "/proc/self/maps")
            return maps.split(separator: "\n").filter { $0.contains("io_uring") }.reduce(0) { total, line in
                let range = line.split(separator: " ")[0].split(separator: "-").map { Int($0, radix: 16)! }
                return total + range[1] - range[0]
            }
        }
        for depth in [2, 32, 200] {
            let configuration = try inFlightConfiguration(inFlight: depth, workers: 2)
            let before = try ioUringMappedBytes()
            let engine = try IOEngine(configuration: configuration)
            let after = try ioUringMappedBytes()
            engine.shutdown()
            let part = EngineFootprint(configuration).parts.first { $0.name == "worker io_urings" }
            #expect(part?.bytes == after - before, "inFlight \(depth): footprint \(part?.bytes ?? -1), mapped \(after - before)")
            #expect(try ioUringMappedBytes() == before, "inFlight \(depth): the rings were not unmapped at shutdown")
        }
    }

    /// Created from a thread pinned to CPU 0, a group on CPU 1 with a ring:
    /// the worker, and the io-wq thread the kernel creates for its fsync
    /// (always run there), are on CPU 1 — nothing comes from the creator.
    @Test("from a creator pinned to CPU 0: the worker and its io-wq threads are on the group's CPU 1",
          .tags(.concurrency, .needsRoot))
    func pinnedCreatorIOWQThreads() throws {
        final class Box: @unchecked Sendable { var engine: IOEngine?; var error: (any Error)? }
        let box = Box()
        let configuration = try inFlightConfiguration(inFlight: 4)
        let creator = try NativeThread.spawn(attributes: ThreadAttributes(cpus: [0], name: "fly-creator")) {
            do { box.engine = try IOEngine(configuration: configuration) } catch { box.error = error }
        }
        creator.join()
        let engine = try #require(box.engine, "engine creation failed: \(String(describing: box.error))")
        defer { engine.shutdown() }
        let cpu1 = try CPUList(parsing: "1")
        #expect(try SystemTopology.allowedCPUs(tid: engine.workers[0].tid) == cpu1)
        let file = try TemporaryFile(size: 4096)
        try engine.submit(.fsync(file.fd), tag: 1)
        #expect(reapAll(engine, count: 1).map(\.result) == [0])
        let ioWQ = "iou-wrk-\(engine.workers[0].tid)"
        let threads = newThreads(since: [], named: [ioWQ]).compactMap { Int32($0.split(separator: " ")[0]) }
        #expect(!threads.isEmpty, "no \(ioWQ) thread ran the fsync")
        for tid in threads {
            #expect(try SystemTopology.allowedCPUs(tid: tid) == cpu1, "\(ioWQ) (tid \(tid))")
        }
    }

    /// A depth outside 1...4096 is refused, naming the field and what to use.
    @Test("an inFlight depth out of range is refused with the field named")
    func outOfRangeDepthRefused() throws {
        var configuration = try inFlightConfiguration(inFlight: 0)
        configuration.privilegePolicy = .bestEffort
        #expect {
            _ = try IOEngine(configuration: configuration)
        } throws: { error in
            "\(error)".contains("groups[0].inFlight") && "\(error)".contains("io_uring")
        }
        let json = #"{"groups":[{"name":"a","workers":1,"inFlight":5000}]}"#
        let decoded = try JSONDecoder().decode(EngineConfiguration.self, from: Data(json.utf8))
        #expect(decoded.groups[0].inFlight == 5000)
        #expect(throws: (any Error).self) { try decoded.validate() }
    }
}
