import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

/// A read(2) of one word from a pipe, run as a custom call: it blocks while
/// the pipe is empty. (A `.read` request is a `pread`, which a pipe refuses
/// with ESPIPE.)
struct PipeReader: ~Copyable {
    let fd: Int32
    let running = Atomic<Bool>(false)
    init(fd: Int32) { self.fd = fd }
}

private let readFromPipe: CustomBlockingCall = { context in
    let reader = context!.assumingMemoryBound(to: PipeReader.self)
    reader.pointee.running.store(true, ordering: .releasing)
    var word: UInt64 = 0
    let n = read(reader.pointee.fd, &word, 8)
    return n < 0 ? -Int(errno) : n
}

/// An engine, a pipe, and a worker blocked reading from the empty pipe.
/// `release()` writes one word into the pipe; `close()` releases (if not yet
/// done), shuts the engine down and frees everything.
private final class BlockedWorkerFixture {
    let engine: IOEngine
    let fds: [Int32]
    let reader: UnsafeMutablePointer<PipeReader>
    var released = false

    init(configuration: EngineConfiguration, blocker: Placement) throws {
        engine = try IOEngine(configuration: configuration)
        var fds: [Int32] = [-1, -1]
        try #require(pipe(&fds) == 0)
        self.fds = fds
        reader = .allocate(capacity: 1)
        reader.initialize(to: PipeReader(fd: fds[0]))
        try engine.submit(.custom(readFromPipe, context: UnsafeMutableRawPointer(reader)), tag: Self.blockerTag, placement: blocker)
    }

    static let blockerTag: UInt64 = 1_000_000

    /// Waits until the pipe read runs and returns the worker serving it.
    func waitForBlockedWorker() throws -> Int {
        try #require(waitUntil(seconds: 10) { reader.pointee.running.load(ordering: .acquiring) },
                     "the blocking pipe read never started")
        var blocked = -1
        try #require(
            waitUntil(seconds: 10) {
                let marked = (0..<engine.workers.count).filter { engine.workers[$0].ring.serviceStartedAt != 0 }
                if marked.count == 1 { blocked = marked[0] }
                return blocked >= 0
            }, "no worker shows the pipe read in service")
        return blocked
    }

    func release() {
        guard !released else { return }
        released = true
        var word: UInt64 = 1
        _ = write(fds[1], &word, 8)
    }

    func close() {
        release()
        engine.shutdown()
        _ = Glibc.close(fds[0])
        _ = Glibc.close(fds[1])
        reader.deinitialize(count: 1)
        reader.deallocate()
    }
}

@Suite("Engine: least-loaded placement and head-of-line blocking", .serialized, .tags(.concurrency))
struct EnginePlacementTests {
    enum Scenario: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// Blocker pinned to worker 0, reads `.leastLoaded` over the engine.
        case pinnedBlocker
        /// Blocker placed `.leastLoaded` itself, reads `.leastLoaded`.
        case leastLoadedBlocker
        /// Blocker pinned to worker 0 of group "a", reads `.leastLoadedIn(a)`.
        case pinnedBlockerInGroup
        var testDescription: String { rawValue }
    }

    /// One worker is stuck on a read from an empty pipe; 100 independent
    /// page-cache reads placed least-loaded all complete while it is stuck,
    /// none of them on the stuck worker; then the pipe read completes too.
    @Test("a worker stuck on a request holds none of 100 least-loaded reads", arguments: Scenario.allCases)
    func noHeadOfLineBlocking(scenario: Scenario) throws {
        // Group "a": workers 0 and 1; group "b": worker 2.
        let configuration = EngineConfiguration(
            groups: [.init(name: "a", workers: 2, scheduling: .other(nice: 0)),
                     .init(name: "b", workers: 1, scheduling: .other(nice: 0))],
            ringCapacity: 256, requestsInFlight: 1024, spinBudget: .nanoseconds(0))
        let blockerPlacement: Placement = scenario == .leastLoadedBlocker ? .leastLoaded : .worker(0)
        let fixture = try BlockedWorkerFixture(configuration: configuration, blocker: blockerPlacement)
        defer { fixture.close() }
        let engine = fixture.engine
        let groupA = try #require(engine.group(named: "a"))
        let readPlacement: Placement = scenario == .pinnedBlockerInGroup ? .leastLoadedIn(groupA) : .leastLoaded

        let blocked = try fixture.waitForBlockedWorker()
        // Let the pipe read become a long request (a prerequisite, not an assertion on time).
        let since = engine.workers[blocked].ring.serviceStartedAt
        try #require(waitUntil(seconds: 10) {
            rtio_monotonic_ns() > since + 2 * UInt64(IOEngine.longServiceNanoseconds)
        })

        let count = 100
        let file = try TemporaryFile(size: count * 4096, readOnly: true)
        let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: count * 8, alignment: 8)
        defer { buffers.deallocate() }
        for i in 0..<count {
            let buffer = UnsafeMutableRawBufferPointer(rebasing: buffers[(i * 8)..<(i * 8 + 8)])
            try engine.submit(.read(file.fd, into: buffer, at: Int64(i * 4096 + 8)), tag: UInt64(i), placement: readPlacement)
        }
        let queuedOnBlocked = engine.workers[blocked].ring.approximateCount
        let whileBlocked = reapAll(engine, count: count, seconds: 20)
        let stillBlocked = !whileBlocked.contains { $0.tag == BlockedWorkerFixture.blockerTag }
        #expect(stillBlocked, "the pipe read finished before the pipe was written")
        #expect(queuedOnBlocked == 0, "\(queuedOnBlocked) reads queued behind the stuck worker \(blocked)")
        #expect(whileBlocked.count == count, "only \(whileBlocked.count) of \(count) reads completed while worker \(blocked) was stuck")

        fixture.release()
        let rest = reapAll(engine, count: count + 1 - whileBlocked.count, seconds: 20)
        let all = whileBlocked + rest
        let reads = all.filter { $0.tag != BlockedWorkerFixture.blockerTag }
        #expect(reads.count == count)
        let landedOnBlocked = reads.filter { $0.worker == blocked }.count
        #expect(landedOnBlocked == 0, "\(landedOnBlocked) of \(count) reads ran on the stuck worker \(blocked)")
        if scenario == .pinnedBlockerInGroup {
            #expect(reads.allSatisfy { $0.worker == 1 }, "a .leastLoadedIn(a) read ran outside group a's free worker")
        }
        for completion in reads {
            #expect(completion.result == 8)
            let i = Int(completion.tag)
            #expect(buffers.load(fromByteOffset: i * 8, as: UInt64.self) == UInt64(i * 4096 + 8))
        }
        let blocker = all.first { $0.tag == BlockedWorkerFixture.blockerTag }
        #expect(blocker?.result == 8, "the pipe read did not complete after the pipe was written")
        #expect(blocker?.worker == blocked)
    }

    /// Two idle workers; worker 0 takes a request that stays in service. The
    /// next least-loaded request goes to worker 1 (worker 0 has nothing
    /// queued, but it is not idle). With both idle again, ties go to worker 0.
    @Test("a worker with a request in service is not idle: the tie goes to the idle peer")
    func inServiceIsNotIdle() throws {
        let fixture = try BlockedWorkerFixture(configuration: testConfiguration(workers: 2), blocker: .worker(0))
        defer { fixture.close() }
        let engine = fixture.engine
        let blocked = try fixture.waitForBlockedWorker()
        try #require(blocked == 0)
        try #require(engine.workers[0].ring.approximateCount == 0 && engine.workers[1].ring.approximateCount == 0)

        let file = try TemporaryFile(size: 4096, readOnly: true)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
        defer { buffer.deallocate() }
        try engine.submit(.read(file.fd, into: buffer, at: 16), tag: 1, placement: .leastLoaded)
        let first = reapAll(engine, count: 1, seconds: 20)
        #expect(first.map(\.worker) == [1], "the read went to worker 0, which was serving the pipe read")

        fixture.release()
        var rest = reapAll(engine, count: 2 - first.count, seconds: 20)
        #expect(rest.contains { $0.tag == BlockedWorkerFixture.blockerTag && $0.worker == 0 })
        // Both idle: the lowest index takes it (a light load keeps one worker hot).
        try #require(waitUntil(seconds: 10) {
            engine.workers.allSatisfy { $0.ring.serviceStartedAt == 0 && $0.ring.approximateCount == 0 }
        })
        try engine.submit(.read(file.fd, into: buffer, at: 24), tag: 2, placement: .leastLoaded)
        rest = reapAll(engine, count: 1, seconds: 20)
        #expect(rest.map(\.worker) == [0])
        #expect(rest.map(\.result) == [8])
    }
}
