import CRealtimeIOShims
import Foundation
import NIOCore
import NIOPosix
@testable import RealtimeIO
@testable import RealtimeIOLinux
@testable import RealtimeIONIO
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A custom call that returns its context's bit pattern: the result identifies the request.
private let echoContext: CustomBlockingCall = { context in Int(bitPattern: context) }

/// Per-tag delivery counts and the first failure, filled on the event loop.
private final class Deliveries: Sendable {
    let counts: Mutex<[Int]>
    let offLoop = SharedCounter()
    let total = SharedCounter()
    let failures = FailureLog()
    init(_ n: Int) { counts = Mutex(Array(repeating: 0, count: n)) }

    func record(_ completion: IOCompletion, expectedResult: Int, onLoop: Bool) {
        if !onLoop { offLoop.add() }
        if completion.result != expectedResult {
            failures.record("tag \(completion.tag): result \(completion.result), want \(expectedResult)")
        }
        counts.withLock { $0[Int(completion.tag)] += 1 }
        total.add()
    }
    var notExactlyOnce: [Int] { counts.withLock { c in c.indices.filter { c[$0] != 1 } } }
}

@Suite("EventLoopEngine", .serialized, .tags(.concurrency))
struct EventLoopEngineTests {

    static func configuration(workers: Int = 2, slots: Int = 256) -> EngineConfiguration {
        // spin 0: workers park at once, so nearly every completion goes through
        // the eventfd (and the loop's read / re-arm), not a spinning reaper.
        testConfiguration(workers: workers, ring: 64, slots: slots, spin: 0)
    }

    @Test("N requests from 4 threads: every future fulfilled exactly once, on the loop it was given")
    func futuresOnTheLoop() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let engine = try IOEngine(configuration: Self.configuration())
        let adapter = try EventLoopEngine.register(engine, on: loop).wait()
        #expect(adapter.eventLoop === loop)

        let perThread = scaled(1_000)
        let threads = 4
        let n = perThread * threads
        let deliveries = Deliveries(n)
        let rejected = SharedCounter()
        let deadline = rtio_monotonic_ns() + 60_000_000_000
        let submitters = (0..<threads).map { t -> NativeThread in
            startThread(name: "nio-sub-\(t)") {
                for i in 0..<perThread {
                    let tag = t * perThread + i
                    // The table holds 256 outstanding futures: retry while full.
                    while true {
                        do throws(SubmitError) {
                            let context = UnsafeMutableRawPointer(bitPattern: 0x1000 + tag)
                            try adapter.submit(.custom(echoContext, context: context), tag: UInt64(tag))
                                .whenSuccess { completion in
                                    deliveries.record(completion, expectedResult: 0x1000 + tag, onLoop: loop.inEventLoop)
                                }
                            break
                        } catch .full {
                            // Bounded: with a lost wake-up no future completes and the table stays full.
                            guard rtio_monotonic_ns() < deadline else {
                                deliveries.failures.record("submit \(tag): table still full after 60 s")
                                return
                            }
                            rejected.add()
                            sched_yield()
                        } catch {
                            deliveries.failures.record("submit \(tag): \(error)")
                            break
                        }
                    }
                }
            }
        }
        for thread in submitters { thread.join() }
        #expect(waitUntil(seconds: 60) { deliveries.total.value >= n },
                "\(deliveries.total.value) of \(n) futures fulfilled: a lost wake-up leaves the rest waiting")
        // Give a duplicate delivery the chance to show up before counting.
        try loop.submit {}.wait()
        #expect(deliveries.failures.all.isEmpty, "\(deliveries.failures.all.prefix(5))")
        #expect(deliveries.offLoop.value == 0, "\(deliveries.offLoop.value) completions delivered off the loop")
        #expect(deliveries.notExactlyOnce.isEmpty, "tags not delivered exactly once: \(deliveries.notExactlyOnce.prefix(10))")
        engine.shutdown(.drain)
        try adapter.close().wait()
    }

    @Test("requests submitted to the engine directly reach onCompletion on the loop, exactly once")
    func callbackOnTheLoop() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let engine = try IOEngine(configuration: Self.configuration())
        let n = scaled(2_000)
        let deliveries = Deliveries(n)
        let adapter = try EventLoopEngine.register(engine, on: loop) { completion in
            deliveries.record(completion, expectedResult: 0x2000 + Int(completion.tag), onLoop: loop.inEventLoop)
        }.wait()
        // Two submitting threads, with the engine's own tags (bit 63 clear).
        let deadline = rtio_monotonic_ns() + 60_000_000_000
        let submitters = (0..<2).map { t -> NativeThread in
            startThread(name: "nio-direct-\(t)") {
                for tag in stride(from: t, to: n, by: 2) {
                    while true {
                        do throws(SubmitError) {
                            try engine.submit(.custom(echoContext, context: UnsafeMutableRawPointer(bitPattern: 0x2000 + tag)), tag: UInt64(tag))
                            break
                        } catch .full {
                            guard rtio_monotonic_ns() < deadline else {
                                deliveries.failures.record("submit \(tag): ring still full after 60 s")
                                return
                            }
                            sched_yield()
                        } catch {
                            deliveries.failures.record("submit \(tag): \(error)")
                            break
                        }
                    }
                }
            }
        }
        for thread in submitters { thread.join() }
        #expect(waitUntil(seconds: 60) { deliveries.total.value >= n }, "\(deliveries.total.value) of \(n) delivered")
        try loop.submit {}.wait()
        #expect(deliveries.failures.all.isEmpty, "\(deliveries.failures.all.prefix(5))")
        #expect(deliveries.offLoop.value == 0)
        #expect(deliveries.notExactlyOnce.isEmpty, "\(deliveries.notExactlyOnce.prefix(10))")
        engine.shutdown(.drain)
        try adapter.close().wait()
    }

    @Test("completions that arrived before register are delivered by it")
    func completionsBeforeRegister() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let engine = try IOEngine(configuration: Self.configuration())
        let n = 50
        let deliveries = Deliveries(n)
        for tag in 0..<n {
            try engine.submit(.custom(echoContext, context: UnsafeMutableRawPointer(bitPattern: 0x2000 + tag)), tag: UInt64(tag))
        }
        // Let them all finish (the eventfd was written once and never re-armed) …
        #expect(waitUntil(seconds: 30) { engine.workerSnapshots().reduce(0) { $0 + $1.completed } == n })
        // … then hand the engine to the loop.
        let adapter = try EventLoopEngine.register(engine, on: loop) { completion in
            deliveries.record(completion, expectedResult: 0x2000 + Int(completion.tag), onLoop: loop.inEventLoop)
        }.wait()
        #expect(waitUntil(seconds: 30) { deliveries.total.value >= n }, "\(deliveries.total.value) of \(n)")
        try loop.submit {}.wait()
        #expect(deliveries.notExactlyOnce.isEmpty)
        engine.shutdown(.drain)
        try adapter.close().wait()
    }

    /// One engine with one worker, registered on `group`'s loop, and an adapter
    /// request that blocks that worker until `release` is set (the caller
    /// deallocates it after the engine's shutdown).
    static func blockedRequest(on group: MultiThreadedEventLoopGroup) throws -> (
        loop: any EventLoop, engine: IOEngine, adapter: EventLoopEngine, blocked: EventLoopFuture<IOCompletion>,
        release: UnsafeMutablePointer<Atomic<Bool>>
    ) {
        let loop = group.next()
        let engine = try IOEngine(configuration: Self.configuration(workers: 1))
        let adapter = try EventLoopEngine.register(engine, on: loop).wait()
        let release = UnsafeMutablePointer<Atomic<Bool>>.allocate(capacity: 1)
        release.initialize(to: Atomic(false))
        let blocked = try adapter.submit(.custom(blockUntilReleased, context: UnsafeMutableRawPointer(release)), tag: 7)
        return (loop, engine, adapter, blocked, release)
    }

    @Test("close() fails the futures still outstanding with .closed; submit after close throws .shutDown")
    func closeFailsOutstanding() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let (_, engine, adapter, blocked, release) = try Self.blockedRequest(on: group)
        defer { release.deallocate() }
        try adapter.close().wait()
        #expect(throws: EventLoopEngineError.closed) { try blocked.wait() }
        #expect(throws: SubmitError.shutDown) {
            _ = try adapter.submit(.custom(echoContext, context: nil))
        }
        release.pointee.store(true, ordering: .releasing)
        engine.shutdown(.drain)
    }

    /// Before: the handler had no errorCaught/channelInactive, so a read error
    /// on the eventfd channel left every outstanding future unfulfilled for ever.
    @Test("an error on the eventfd channel fails the outstanding futures with .watchLost; later submits throw .shutDown")
    func channelErrorFailsOutstanding() throws {
        struct ReadFailed: Error {}
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let (loop, engine, adapter, blocked, release) = try Self.blockedRequest(on: group)
        defer { release.deallocate() }
        let channel = try #require(adapter.watchingChannel)
        let settled = SharedCounter()
        blocked.whenComplete { _ in settled.add() }
        try loop.submit { channel.pipeline.fireErrorCaught(ReadFailed()) }.wait()
        // Bounded: without the handler's errorCaught the future is never fulfilled.
        #expect(waitUntil(seconds: 10) { settled.value == 1 }, "the outstanding future was never failed")
        #expect(throws: EventLoopEngineError.watchLost(reason: "ReadFailed()")) {
            if settled.value == 1 { try blocked.wait() } else { throw EventLoopEngineError.closed }
        }
        #expect(throws: SubmitError.shutDown) {
            _ = try adapter.submit(.custom(echoContext, context: nil))
        }
        // The channel was closed with it; close() afterwards is harmless.
        #expect(waitUntil(seconds: 10) { !channel.isActive }, "the channel was left open")
        try adapter.close().wait()
        #expect("\(EventLoopEngineError.watchLost(reason: "x"))".contains("register the engine again"))
        release.pointee.store(true, ordering: .releasing)
        engine.shutdown(.drain)
    }

    @Test("an engine with worker-handler delivery is refused with a message naming the fix")
    func workerHandlerRefused() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        var configuration = Self.configuration(workers: 1)
        configuration.completionDelivery = .workerHandler { _ in }
        let engine = try IOEngine(configuration: configuration)
        defer { engine.shutdown() }
        #expect(throws: EventLoopEngineError.notEventFDDelivery) {
            _ = try EventLoopEngine.register(engine, on: group.next()).wait()
        }
        #expect(EventLoopEngineError.notEventFDDelivery.description.contains("completionDelivery \"eventfd\""))
    }

    @Test("the NIO example (Examples/nio-event-loop) writes and reads back a file with every completion on its loop")
    func example() throws {
        let file = NSTemporaryDirectory() + "rtio-example-nio-\(getpid()).dat"
        let r = try cRun(builtProduct("rtio-example-nio"), [file])
        #expect(!r.timedOut)
        #expect(r.status == 0, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        #expect(r.stdout.contains("wrote 32 blocks, every completion on the loop"), "\(r.stdout)")
        #expect(r.stdout.contains("OK 32 blocks verified"), "\(r.stdout)")
    }
}
