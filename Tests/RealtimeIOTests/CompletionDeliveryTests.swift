import Foundation
@testable import RealtimeIO
import Synchronization
import Testing

@Suite("Completion delivery")
struct CompletionDeliveryTests {
    @Test("JSON: \"eventfd\" and \"completionRing\" load as .completionRing; encoding writes \"eventfd\"")
    func jsonRingForm() throws {
        for name in ["eventfd", "completionRing"] {
            let c = try EngineConfiguration(json: #"{"groups":[{"name":"io","workers":1}],"completionDelivery":"\#(name)"}"#)
            #expect(c.completionDelivery == .completionRing)
        }
        let encoded = String(decoding: try JSONEncoder().encode(testConfiguration()), as: UTF8.self)
        #expect(encoded.contains(#""completionDelivery":"eventfd""#))
        #expect(try EngineConfiguration(json: encoded) == testConfiguration())
    }

    @Test("JSON: \"workerHandler\" is refused, naming the field and what to do")
    func jsonHandlerRefused() throws {
        do {
            _ = try EngineConfiguration(json: #"{"groups":[{"name":"io","workers":1}],"completionDelivery":"workerHandler"}"#)
            Issue.record("a handler-less workerHandler was accepted")
        } catch {
            #expect(error.description.contains("completionDelivery"), "\(error)")
            #expect(error.description.contains("workerHandler"), "\(error)")
        }
    }

    @Test(".workerHandler(handler): the handler runs on the worker for every completion; the rings stay empty",
          .tags(.concurrency))
    func workerHandlerRuns() throws {
        // Written on the worker, read here: AnnotatedMutex, whose hand-over ThreadSanitizer sees.
        let seen = AnnotatedMutex<[UInt64]>([])
        var config = testConfiguration(workers: 1)
        config.completionDelivery = .workerHandler { completion in seen.withLock { $0.append(completion.tag) } }
        let engine = try IOEngine(configuration: config)
        for tag in 0..<32 { try engine.submit(.custom(echoCall, context: nil), tag: UInt64(tag)) }
        #expect(waitUntil(seconds: 10) { seen.withLock { $0.count } == 32 })
        engine.shutdown()
        #expect(seen.withLock { $0 } == Array(0..<32))
        #expect(engine.reap { _ in } == 0)
    }

    @Test("on-demand completions carry no worker index (nil, not -1)")
    func onDemandWorkerIsNil() throws {
        let engine = try IOEngine(configuration: onDemandConfiguration(spawner: .spawnerThread, maxThreads: 1))
        defer { engine.shutdown() }
        try engine.submit(.custom(echoCall, context: nil), tag: 5)
        var completions: [IOCompletion] = []
        while completions.isEmpty, engine.reap(waitingUpTo: .seconds(10), { completions.append($0) }) > 0 {}
        #expect(completions == [IOCompletion(tag: 5, result: 0, worker: nil)])
    }
}
