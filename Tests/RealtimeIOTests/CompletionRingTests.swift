@testable import RealtimeIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The worker → host completion ring: a cell carries slot, result and tag, and
/// its sequence number alone says whether it is ready (no shared tail).
@Suite("Completion ring")
struct CompletionRingTests {
    @Test("a cell is 32 bytes and never straddles a cache line")
    func cellLayout() {
        #expect(CompletionRing.cellByteCount == 32)
        #expect(64 % CompletionRing.cellByteCount == 0)
    }

    /// Ten laps of a 4-cell ring: every completion comes back with its own
    /// result and tag, in order; a cell left from the previous lap never reads
    /// as ready, and a drain stops at `maximum`.
    @Test("laps: each cell's payload once, in order; a previous lap's cell is not ready")
    func laps() {
        let ring = CompletionRing(minimumCapacity: 4)
        #expect(ring.capacity == 4)
        #expect(ring.isEmpty)
        var position = 0
        for lap in 0..<10 {
            let count = 1 + lap % 4
            for i in 0..<count {
                let n = position + i
                ring.push(UInt32(n % 7), result: n % 2 == 0 ? n * 4096 : -Int(EIO), tag: UInt64(n) &* 0x9E37_79B9_7F4A_7C15)
            }
            #expect(!ring.isEmpty)
            var seen: [(UInt32, Int, UInt64)] = []
            // At most 1 per call: `maximum` is honoured and the rest stays.
            while ring.drain(maximum: 1, { seen.append(($0, $1, $2)) }) == 1 {}
            #expect(seen.count == count, "lap \(lap)")
            for (i, (slot, result, tag)) in seen.enumerated() {
                let n = position + i
                #expect(slot == UInt32(n % 7))
                #expect(result == (n % 2 == 0 ? n * 4096 : -Int(EIO)))
                #expect(tag == UInt64(n) &* 0x9E37_79B9_7F4A_7C15)
            }
            #expect(ring.isEmpty)
            #expect(ring.drain(maximum: .max) { _, _, _ in Issue.record("drained from an empty ring") } == 0)
            position += count
        }
    }
}

@Suite("Concurrency: completion ring", .tags(.concurrency))
struct CompletionRingConcurrencyTests {
    /// A producer thread and a consumer thread; the producer pushes only while
    /// fewer than `capacity` completions are outstanding (as the slab bounds a
    /// worker). The consumer checks every payload, in order: a payload read
    /// before its sequence was published (a missing release/acquire) or a cell
    /// taken from an earlier lap shows as a wrong value here, and under
    /// ThreadSanitizer as a race.
    @Test("one producer, one consumer: every payload once, in order", arguments: [2, 64])
    func producerConsumer(capacity: Int) {
        let ring = CompletionRing(minimumCapacity: capacity)
        let total = scaled(400_000, tsanDivisor: 8)
        let consumed = SharedCounter()
        let failures = FailureLog()
        let stop = SharedFlag()
        let producer = startThread(name: "completion-prod") {
            for n in 0..<total {
                while n - consumed.value >= ring.capacity {
                    if stop.isSet { return }
                    sched_yield()
                }
                ring.push(UInt32(n & 0xFFFF), result: n, tag: UInt64(n) << 1 | 1)
            }
        }
        var next = 0
        while next < total && failures.all.isEmpty {
            let got = ring.drain(maximum: 16) { slot, result, tag in
                if slot != UInt32(next & 0xFFFF) || result != next || tag != UInt64(next) << 1 | 1 {
                    failures.record("position \(next): slot \(slot) result \(result) tag \(tag)")
                }
                next += 1
            }
            if got == 0 { sched_yield() } else { consumed.store(next) }
        }
        stop.set()
        producer.join()
        #expect(failures.all.isEmpty, "\(failures.all.prefix(3))")
        #expect(next == total || !failures.all.isEmpty)
        #expect(ring.isEmpty)
    }
}
