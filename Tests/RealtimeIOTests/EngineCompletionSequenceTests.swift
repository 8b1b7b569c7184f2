import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import Testing

@Suite("Engine: completions as an AsyncSequence", .serialized, .tags(.concurrency))
struct EngineCompletionSequenceTests {
    @Test("a task receives every completion exactly once, then the sequence ends after shutdown")
    func deliversAllThenEnds() async throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 2, slots: 64))
        let count = scaled(2_000)
        let consumer = Task {
            var tags: [UInt64] = []
            for await completion in engine.completions() { tags.append(completion.tag) }
            return tags
        }
        // Submit from a plain thread, retrying on .full: slots are freed only
        // as the task consumes (no buffering behind the consumer's back).
        let submitted = SharedFlag()
        let submitter = startThread {
            var tag = 0
            while tag < count {
                do {
                    try engine.submit(.custom(echoCall, context: nil), tag: UInt64(tag))
                    tag += 1
                } catch { sched_yield() }
            }
            submitted.set()
        }
        // Not join(): the consumer task needs a pool thread while the submitter runs.
        #expect(await pollUntil(seconds: 120) { submitted.isSet })
        submitter.join()
        // Let the consumer catch up before the shutdown: the sequence must also end
        // when it is suspended with nothing pending.
        engine.shutdown(.drain)
        let tags = await consumer.value
        #expect(tags.count == count)
        #expect(Set(tags).count == count)
    }

    @Test("cancelling the consuming task ends the iteration and stops the waiting thread")
    func cancellation() async throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        defer { engine.shutdown() }
        let started = SharedFlag()
        let consumer = Task {
            var n = 0
            var iterator = engine.completions().makeAsyncIterator()
            started.set()
            while await iterator.next() != nil { n += 1 }
            return n
        }
        #expect(await pollUntil(seconds: 10) { started.isSet && completionThreadCount() == 1 })
        consumer.cancel()
        #expect(await consumer.value == 0)
        // The iterator was released with the task: its thread joined.
        #expect(completionThreadCount() == 0)
        // The engine still works for a plain reaper.
        try engine.submit(.custom(echoCall, context: nil), tag: 7)
        var tags: [UInt64] = []
        _ = engine.reap(waitingUpTo: .seconds(10)) { tags.append($0.tag) }
        #expect(tags == [7])
    }
}

/// Threads of this process named rtio-completion.
private func completionThreadCount() -> Int {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tasks.filter { tid in
        ((try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8)) ?? "").hasPrefix("rtio-completion")
    }.count
}
