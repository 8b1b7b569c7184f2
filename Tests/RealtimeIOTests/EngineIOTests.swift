import CMallocCounter
import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

/// The custom blocking call used by the tests: adds 1 to an Int behind `context`, returns 7.
private let customIncrement: CustomBlockingCall = { context in
    context!.assumingMemoryBound(to: Int.self).pointee += 1
    return 7
}

@Suite("Engine: operations and data", .tags(.concurrency))
struct EngineIOTests {
    @Test("every operation on a real file")
    func everyOperation() throws {
        let engine = try IOEngine(configuration: testConfiguration())
        defer { engine.shutdown() }
        let file = try TemporaryFile()
        let fd = file.fd
        var pattern = [UInt8](repeating: 0, count: 3 * 4096)
        for i in pattern.indices { pattern[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }

        // write
        try pattern.withUnsafeBytes { _ = try engine.submit(.write(fd, from: $0, at: 0), tag: 1) }
        #expect(reapAll(engine, count: 1) == [IOCompletion(tag: 1, result: pattern.count, worker: 0)])
        // read, with a short read at EOF
        var back = [UInt8](repeating: 0, count: 4 * 4096)
        try back.withUnsafeMutableBytes { _ = try engine.submit(.read(fd, into: $0, at: 0), tag: 2) }
        #expect(reapAll(engine, count: 1).first?.result == pattern.count, "reads stop at EOF")
        #expect(Array(back.prefix(pattern.count)) == pattern)

        // writev/readv with inline iovecs (≤ 4) and with a caller-owned array (> 4)
        for count in [3, 9] {
            let chunk = 512
            let src = UnsafeMutableRawBufferPointer.allocate(byteCount: count * chunk, alignment: 16)
            let dst = UnsafeMutableRawBufferPointer.allocate(byteCount: count * chunk, alignment: 16)
            defer { src.deallocate(); dst.deallocate() }
            for i in 0..<src.count { src[i] = UInt8(truncatingIfNeeded: i &+ count) }
            var wv = (0..<count).map { iovec(iov_base: src.baseAddress! + $0 * chunk, iov_len: chunk) }
            var rv = (0..<count).map { iovec(iov_base: dst.baseAddress! + $0 * chunk, iov_len: chunk) }
            try wv.withUnsafeBufferPointer { _ = try engine.submit(.writev(fd, $0, at: 100_000), tag: 3) }
            #expect(reapAll(engine, count: 1).first?.result == count * chunk)
            try rv.withUnsafeBufferPointer { _ = try engine.submit(.readv(fd, $0, at: 100_000), tag: 4) }
            #expect(reapAll(engine, count: 1).first?.result == count * chunk)
            #expect(memcmp(src.baseAddress!, dst.baseAddress!, src.count) == 0)
            wv.removeAll(); rv.removeAll()
        }

        // fsync, fdatasync
        try engine.submit(.fsync(fd), tag: 5)
        try engine.submit(.fdatasync(fd), tag: 6)
        #expect(Set(reapAll(engine, count: 2).map(\.result)) == [0])

        // fallocate: allocate extends, zero range and punch hole read back as zeros
        try engine.submit(.fallocate(fd, .allocate, at: 0, length: 1 << 20), tag: 7)
        #expect(reapAll(engine, count: 1).first?.result == 0)
        #expect(try fd.seek(offset: 0, from: .end) == 1 << 20)
        try engine.submit(.fallocate(fd, .zeroRange, at: 0, length: 4096), tag: 8)
        try engine.submit(.fallocate(fd, .punchHole, at: 4096, length: 4096), tag: 9)
        let results = reapAll(engine, count: 2)
        #expect(results.allSatisfy { $0.result == 0 }, "\(results)")
        var zeros = [UInt8](repeating: 1, count: 8192)
        _ = try zeros.withUnsafeMutableBytes { try fd.read(fromAbsoluteOffset: 0, into: $0) }
        #expect(zeros.allSatisfy { $0 == 0 })

        // custom blocking call
        var counter = 41
        try withUnsafeMutablePointer(to: &counter) { _ = try engine.submit(.custom(customIncrement, context: $0), tag: 10) }
        #expect(reapAll(engine, count: 1).first?.result == 7)
        #expect(counter == 42)
    }

    @Test("bad input: EBADF completions, EINVAL at submit, too many iovecs")
    func badInput() throws {
        let engine = try IOEngine(configuration: testConfiguration())
        defer { engine.shutdown() }
        var buffer = [UInt8](repeating: 0, count: 4096)
        try buffer.withUnsafeMutableBytes { b in
            try engine.submit(.read(FileDescriptor(rawValue: 9999), into: b, at: 0), tag: 1)
            try engine.submit(.read(FileDescriptor(rawValue: -1), into: b, at: 0), tag: 2)
        }
        let readOnly = try TemporaryFile(size: 4096, readOnly: true)
        try buffer.withUnsafeBytes { _ = try engine.submit(.write(readOnly.fd, from: $0, at: 0), tag: 3) }
        let results = reapAll(engine, count: 3)
        #expect(results.count == 3)
        #expect(results.allSatisfy { $0.error == .badFileDescriptor }, "\(results)")

        let file = try TemporaryFile(size: 4096)
        buffer.withUnsafeMutableBytes { b in
            #expect(throws: SubmitError.invalidRange(offset: -1, length: 4096)) {
                try engine.submit(.read(file.fd, into: b, at: -1), tag: 4)
            }
            #expect(throws: SubmitError.invalidRange(offset: Int64.max - 10, length: 4096)) {
                try engine.submit(.read(file.fd, into: b, at: Int64.max - 10), tag: 5)
            }
        }
        #expect(throws: SubmitError.invalidRange(offset: 0, length: -5)) {
            try engine.submit(.fallocate(file.fd, .allocate, at: 0, length: -5), tag: 6)
        }
        let many = [iovec](repeating: iovec(iov_base: nil, iov_len: 0), count: 1025)
        _ = many.withUnsafeBufferPointer { v in
            #expect(throws: SubmitError.tooManyIOVecs(1025)) { _ = try engine.submit(.readv(file.fd, v, at: 0), tag: 7) }
        }
        #expect(throws: SubmitError.noSuchWorker(5)) { _ = try engine.submit(.fsync(file.fd), tag: 8, placement: .worker(5)) }
        #expect(SubmitError.tooManyIOVecs(1025).description.contains("IOV_MAX"))
        // Nothing was enqueued by the refused submits.
        #expect(reapAll(engine, count: 1, seconds: 0.2).isEmpty)
    }

    @Test("full: no free slot or a full ring fails at once, nothing lost")
    func full() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, ring: 4, slots: 8))
        let release = UnsafeMutablePointer<Atomic<Bool>>.allocate(capacity: 1)
        release.initialize(to: Atomic(false))
        defer { release.deallocate() }
        try engine.submit(.custom(blockUntilReleased, context: UnsafeMutableRawPointer(release)), tag: 0, placement: .worker(0))
        // Running (busy) and taken off the ring (depth 0).
        #expect(waitUntil(seconds: 2) {
            let s = engine.workerSnapshots()[0]
            return s.state == "busy" && s.queueDepth == 0
        })
        var accepted = 1
        var refused = 0
        let file = try TemporaryFile()
        for tag in 1...20 {
            do {
                try engine.submit(.fsync(file.fd), tag: UInt64(tag), placement: .worker(0))
                accepted += 1
            } catch {
                #expect(error == .full)
                refused += 1
            }
        }
        #expect(accepted == 5, "ring of 4 behind one running request")
        #expect(refused == 16)
        release.pointee.store(true, ordering: .releasing)
        let done = reapAll(engine, count: accepted)
        #expect(done.count == accepted)
        #expect(Set(done.map(\.tag)).count == accepted)
        engine.shutdown()
    }

    /// Regression (CI crash, "completion ring overflow"): the completion ring
    /// is exactly as large as the slab, and the reaper frees each slot while it
    /// is still draining. A slot freed by the first delivery is submitted again
    /// and completed onto the same ring before the drain ends; the ring must
    /// count that entry's cell as consumed already.
    @Test("a slot freed mid-reap is reused and completed onto the same full completion ring")
    func reuseWhileDraining() throws {
        let slots = 8  // a power of two: the completion ring has exactly 8 cells
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, ring: 8, slots: slots))
        defer { engine.shutdown() }
        let file = try TemporaryFile(size: 4096)
        for tag in 0..<slots { _ = try engine.submit(.fsync(file.fd), tag: UInt64(tag), placement: .worker(0)) }
        // All 8 completions sit in the ring: it is full.
        #expect(waitUntil(seconds: 10) {
            let s = engine.workerSnapshots()[0]
            return s.completed == slots && s.state == "parked"
        })
        var tags: [UInt64] = []
        var reusedCompletedInsideDrain = false
        var first = true
        engine.reap(rearm: false) { completion in
            tags.append(completion.tag)
            guard first else { return }
            first = false
            // The first delivery's slot is free again: reuse it and let the
            // worker push its completion while this drain holds 7 more entries.
            do {
                try engine.submit(.fsync(file.fd), tag: 100, placement: .worker(0))
            } catch {
                Issue.record("resubmit refused: \(error)")
                return
            }
            reusedCompletedInsideDrain = waitUntil(seconds: 10) {
                let s = engine.workerSnapshots()[0]
                return s.completed == slots + 1 && s.state == "parked"
            }
        }
        #expect(reusedCompletedInsideDrain)
        tags += reapAll(engine, count: 1).map(\.tag)
        #expect(tags.sorted() == Array(0..<UInt64(slots)) + [100])
    }

    /// P producer threads × a random mix of every operation on real files;
    /// written data read back and verified; every tag exactly once.
    @Test("data: P producers × random operations, verified, each tag once")
    func concurrentDataIntegrity() throws {
        let producers = 4
        let perProducer = scaled(25_000, tsanDivisor: 5)
        let engine = try IOEngine(configuration: testConfiguration(workers: 2, ring: 256, slots: 512, spin: 20_000))
        let file = try TemporaryFile()
        let block = 512
        let blocksPerProducer = 64
        let totalTags = producers * perProducer
        // results[tag] = result + 1 (0 = not yet); seen counts deliveries.
        let resultsMemory = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: totalTags)
        for i in 0..<totalTags { (resultsMemory + i).initialize(to: Atomic(0)) }
        defer { resultsMemory.deallocate() }
        let results = SendablePointer(resultsMemory)
        let duplicates = SharedCounter()
        let stop = SharedFlag()
        let reaper = startThread(name: "reaper") {
            var pfd = pollfd(fd: engine.completionFD.rawValue, events: Int16(POLLIN), revents: 0)
            while !stop.isSet {
                let n = engine.reap { c in
                    if results[Int(c.tag)].pointee.exchange(c.result + 1, ordering: .acquiringAndReleasing) != 0 {
                        duplicates.add()
                    }
                }
                if n == 0 { _ = poll(&pfd, 1, 10) }
            }
        }
        let failures = FailureLog()
        var threads: [NativeThread] = []
        for p in 0..<producers {
            threads.append(startThread(name: "producer-\(p)") {
                var rng = SystemRandomNumberGenerator()
                let region = Int64(p * blocksPerProducer * block)
                let writeBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: block * 2, alignment: 64)
                let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: block * 2, alignment: 64)
                defer { writeBuffer.deallocate(); readBuffer.deallocate() }
                var shadow = [UInt8](repeating: 0, count: blocksPerProducer * block)  // expected file content
                var counter = 0
                func awaitResult(_ tag: Int) -> Int {
                    while results[tag].pointee.load(ordering: .acquiring) == 0 { sched_yield() }
                    return results[tag].pointee.load(ordering: .acquiring) - 1
                }
                for i in 0..<perProducer {
                    let tag = p * perProducer + i
                    let b = Int.random(in: 0..<(blocksPerProducer - 1), using: &rng)
                    let offset = region + Int64(b * block)
                    let op = Int.random(in: 0..<100, using: &rng)
                    let request: IORequest
                    var expect = -1
                    var verifyRead = false
                    var iov = [iovec(iov_base: readBuffer.baseAddress!, iov_len: block / 2),
                               iovec(iov_base: readBuffer.baseAddress! + block / 2, iov_len: block / 2)]
                    switch op {
                    case 0..<30:  // write a fresh pattern
                        let seed = UInt8.random(in: 0...255, using: &rng)
                        for k in 0..<block { writeBuffer[k] = seed &+ UInt8(truncatingIfNeeded: k) }
                        for k in 0..<block { shadow[b * block + k] = writeBuffer[k] }
                        request = .write(file.fd, from: UnsafeRawBufferPointer(rebasing: writeBuffer[0..<block]), at: offset)
                        expect = block
                    case 30..<40:  // writev of two halves
                        let seed = UInt8.random(in: 0...255, using: &rng)
                        for k in 0..<block { writeBuffer[k] = seed &+ UInt8(truncatingIfNeeded: k * 3) }
                        for k in 0..<block { shadow[b * block + k] = writeBuffer[k] }
                        iov = [iovec(iov_base: writeBuffer.baseAddress!, iov_len: block / 2),
                               iovec(iov_base: writeBuffer.baseAddress! + block / 2, iov_len: block / 2)]
                        request = iov.withUnsafeBufferPointer { .writev(file.fd, $0, at: offset) }  // inline: copied
                        expect = block
                    case 40..<75:
                        request = .read(file.fd, into: UnsafeMutableRawBufferPointer(rebasing: readBuffer[0..<block]), at: offset)
                        expect = block; verifyRead = true
                    case 75..<88:
                        request = iov.withUnsafeBufferPointer { .readv(file.fd, $0, at: offset) }
                        expect = block; verifyRead = true
                    case 88..<92:
                        request = .fallocate(file.fd, .zeroRange, at: offset, length: Int64(block))
                        for k in 0..<block { shadow[b * block + k] = 0 }
                        expect = 0
                    case 92..<94:
                        request = i % 2 == 0 ? .fdatasync(file.fd) : .fsync(file.fd)
                        expect = 0
                    default:
                        request = withUnsafeMutablePointer(to: &counter) { .custom(customIncrement, context: $0) }
                        expect = 7
                    }
                    // The file must exist up to the end of this producer's region for reads.
                    if i == 0 {
                        let zero = [UInt8](repeating: 0, count: blocksPerProducer * block)
                        _ = try? zero.withUnsafeBytes { try file.fd.writeAll(toAbsoluteOffset: region, $0) }
                    }
                    while true {
                        do throws(SubmitError) {
                            try engine.submit(request, tag: UInt64(tag))
                            break
                        } catch {
                            if error != .full { failures.record("submit: \(error)"); return }
                            sched_yield()
                        }
                    }
                    let result = awaitResult(tag)
                    if result != expect {
                        failures.record("producer \(p) op \(op) tag \(tag): result \(result), expected \(expect)")
                    } else if verifyRead && memcmp(readBuffer.baseAddress!, shadow.withUnsafeBytes { $0.baseAddress! + b * block }, block) != 0 {
                        failures.record("producer \(p) tag \(tag): data read back differs from data written")
                    }
                }
                if counter != perProducer - (perProducer - counter) { failures.record("custom counter") }
            })
        }
        threads.forEach { $0.join() }
        stop.set()
        reaper.join()
        engine.shutdown()
        _ = engine.reap { c in
            if results[Int(c.tag)].pointee.exchange(c.result + 1, ordering: .acquiringAndReleasing) != 0 { duplicates.add() }
        }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
        #expect(duplicates.value == 0)
        var missing = 0
        for t in 0..<totalTags where results[t].pointee.load(ordering: .relaxed) == 0 { missing += 1 }
        #expect(missing == 0, "\(missing) tags never completed")
    }

    @Test("async/await convenience")
    func asyncAPI() async throws {
        let engine = try IOEngine(configuration: testConfiguration())
        defer { engine.shutdown() }
        let file = try TemporaryFile(size: 8192)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 64)
        defer { buffer.deallocate() }
        let n = try await engine.read(file.fd, into: buffer, at: 4096)
        #expect(n == 4096)
        #expect(buffer.load(as: UInt64.self) == 4096)
        do {
            _ = try await engine.read(FileDescriptor(rawValue: 12345), into: buffer, at: 0)
            Issue.record("a read of a bad fd should throw")
        } catch {
            #expect(error as? Errno == .badFileDescriptor)
        }
        try await engine.fsync(file.fd)
    }
}
