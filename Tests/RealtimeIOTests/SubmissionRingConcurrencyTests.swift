import CMallocCounter
import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import Testing

/// Payload layout used by the MPSC tests: producer id in the top 16 bits, sequence below.
private func entry(producer: Int, sequence: Int) -> UInt64 { UInt64(producer) << 48 | UInt64(sequence) }
private func producer(of value: UInt64) -> Int { Int(value >> 48) }
private func sequence(of value: UInt64) -> Int { Int(value & 0xFFFF_FFFF_FFFF) }

@Suite("Concurrency: submission ring", .tags(.concurrency))
struct SubmissionRingConcurrencyTests {
    /// P producers push `perProducer` entries each; the consumer (a real thread
    /// that spins briefly then parks) checks every value arrives exactly once
    /// and in per-producer order.
    @Test("exactly once, per-producer FIFO", arguments: [2, 4, 8], [64, 1024])
    func exactlyOnce(producers: Int, capacity: Int) throws {
        let ring = try SubmissionRing(capacity: capacity)
        let total = scaled(1_000_000, tsanDivisor: 4)
        let perProducer = total / producers
        let failures = FailureLog()
        let received = SharedCounter()
        let consumerDone = SharedFlag()
        let consumer = startThread(name: "ring-consumer") {
            defer { consumerDone.set() }
            var next = [Int](repeating: 0, count: producers)
            var count = 0
            while count < perProducer * producers {
                guard ring.waitForEntries(spinNanoseconds: 2_000, timeoutNanoseconds: 2_000_000_000) else {
                    failures.record("consumer waited 2 s with \(count) of \(perProducer * producers) received")
                    return
                }
                var bad = false
                count += ring.drain(maximum: 64) { value in
                    let p = producer(of: value), s = sequence(of: value)
                    if p >= producers || s != next[p] {
                        failures.record("producer \(p): got sequence \(s), expected \(p < producers ? next[p] : -1)")
                        bad = true
                    } else {
                        next[p] += 1
                    }
                }
                if bad { return }
            }
            received.store(count)
        }
        var threads: [NativeThread] = []
        // Idle gaps so the consumer parks and is woken many times: every 2048
        // entries all producers meet (a counting barrier), then all pause 1 ms
        // together. A pause of one producer alone would overlap the others'
        // pushes, and how often the consumer parked would depend on timing
        // (it did: 7 parks under ThreadSanitizer in one CI run).
        let arrivals = SharedCounter()
        for p in 0..<producers {
            threads.append(startThread(name: "ring-prod-\(p)") {
                var gap = 0
                for s in 0..<perProducer {
                    while !ring.tryPush(entry(producer: p, sequence: s)) {
                        if consumerDone.isSet { return }  // the consumer failed: don't spin forever
                        sched_yield()
                    }
                    if s % 2048 == 2047 {
                        gap += 1
                        arrivals.add()
                        while arrivals.value < gap * producers {
                            if consumerDone.isSet { return }
                            sched_yield()
                        }
                        usleep(1_000)
                    }
                }
            })
        }
        threads.forEach { $0.join() }
        consumer.join()
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
        #expect(received.value == perProducer * producers)
        #expect(ring.tryPop() == nil, "nothing may be left or duplicated")
        #expect(ring.wakeup.parks > 10, "the consumer should have parked many times, parked \(ring.wakeup.parks)")
        // One winner per sleep announcement: never more wake syscalls than announcements.
        #expect(ring.wakeup.wakeSyscalls <= ring.wakeup.parks + ring.wakeup.cancelledParks,
                "wake syscalls \(ring.wakeup.wakeSyscalls) > parks \(ring.wakeup.parks) + cancelled \(ring.wakeup.cancelledParks)")
    }

    /// Bursts alternate with gaps long enough for the consumer to park; a lost
    /// wake-up shows as an entry not consumed within 1 s (the watchdog).
    @Test("no lost wake-up across ≥ 10⁴ park/wake cycles")
    func noLostWakeup() throws {
        let ring = try SubmissionRing(capacity: 64)
        let cycles = scaled(10_000, tsanDivisor: 5)
        let consumed = SharedCounter()
        let stop = SharedFlag()
        let consumer = startThread(name: "ring-consumer") {
            while !stop.isSet {
                _ = ring.waitForEntries(spinNanoseconds: 0, shouldStop: { stop.isSet })
                let n = ring.drain(maximum: 64) { _ in }
                if n > 0 { consumed.add(n) }
            }
        }
        var pushed = 0
        var lost: [Int] = []
        var rng = SystemRandomNumberGenerator()
        for cycle in 0..<cycles {
            // Gap: wait until the consumer has announced sleep (it parks at once: spin budget 0).
            guard waitUntil(seconds: 1, { ring.wakeup.isParked }) else {
                lost.append(cycle)
                break
            }
            let burst = Int.random(in: 1...16, using: &rng)
            if cycle % 2 == 0 {
                for _ in 0..<burst { #expect(ring.tryPush(UInt64(pushed))); pushed += 1 }
            } else {
                let claim = try #require(ring.tryClaim(burst))
                for i in 0..<burst { ring.publish(claim, at: i, UInt64(pushed + i)) }
                ring.finishPublishing(claim)
                pushed += burst
            }
            let target = pushed
            if !waitUntil(seconds: 1, { consumed.value == target }) {
                lost.append(cycle)
                break
            }
        }
        stop.set()
        ring.wakeup.wakeParked()
        consumer.join()
        #expect(lost.isEmpty, "entries waited more than 1 s (lost wake-up) in cycle \(lost)")
        #expect(consumed.value == pushed)
        #expect(ring.wakeup.parks >= cycles, "parks: \(ring.wakeup.parks)")
        #expect(ring.wakeup.wakeSyscalls >= cycles)
    }

    /// A producer stopped between claim and publish: the consumer must park,
    /// not burn the CPU, and must take the entry once it is published.
    @Test("preempted producer between claim and publish")
    func preemptedProducer() throws {
        let ring = try SubmissionRing(capacity: 64)
        // Atomics, not a Mutex: the stdlib Mutex waits on a futex ThreadSanitizer cannot see.
        let valuesMemory = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: 64)
        for i in 0..<64 { (valuesMemory + i).initialize(to: Atomic(.max)) }
        defer { valuesMemory.deallocate() }
        let values = SendablePointer(valuesMemory)
        let consumedCount = SharedCounter()
        let stop = SharedFlag()
        let cpuNanoseconds = SharedCounter()
        let consumer = startThread(name: "ring-consumer") {
            while !stop.isSet {
                _ = ring.waitForEntries(spinNanoseconds: 20_000, shouldStop: { stop.isSet })
                _ = ring.drain(maximum: 64) { v in
                    let n = consumedCount.value
                    if n < 64 { values[n].pointee.store(v, ordering: .relaxed) }
                    consumedCount.add()  // release: publishes the value stored above
                }
            }
            cpuNanoseconds.store(Int(threadCPUTime()))
        }
        // The "low-priority producer" claims position 0 and stalls.
        let stalled = try #require(ring.tryClaim(1))
        // Others publish behind it.
        for v in 1...10 { #expect(ring.tryPush(UInt64(v))) }
        // The consumer cannot pass the stalled cell: it must end up parked.
        #expect(waitUntil(seconds: 2) { ring.wakeup.isParked }, "consumer did not park behind the stalled cell")
        let parksBefore = ring.wakeup.parks
        usleep(300_000)
        #expect(consumedCount.value == 0, "nothing can be consumed past an unpublished cell")
        #expect(ring.wakeup.parks == parksBefore, "the parked consumer must stay asleep, not spin")
        // The late publish wakes it; everything arrives once, in claim order.
        ring.publish(stalled, at: 0, 0)
        ring.finishPublishing(stalled)
        #expect(waitUntil(seconds: 2) { consumedCount.value == 11 })
        stop.set()
        ring.wakeup.wakeParked()
        consumer.join()
        #expect(consumedCount.value == 11)
        #expect((0..<11).map { values[$0].pointee.load(ordering: .relaxed) } == Array(0...10).map(UInt64.init))
        // Spin budget 20 µs, then asleep for ~300 ms: a spinning consumer would use ~300 ms of CPU.
        #expect(cpuNanoseconds.value < 100_000_000, "consumer used \(cpuNanoseconds.value) ns of CPU while stalled")
    }
}
