import CMallocCounter
import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import Testing

@Suite("Submission ring and slab: limits")
struct SubmissionRingLimitTests {
    @Test("a full ring refuses pushes and claims without changing anything")
    func fullRing() throws {
        let ring = try SubmissionRing(capacity: 8)
        for v in 0..<8 { #expect(ring.tryPush(UInt64(v))) }
        #expect(!ring.tryPush(99))
        #expect(ring.tryClaim(1) == nil)
        #expect(ring.tryPop() == 0)
        #expect(ring.tryClaim(2) == nil, "one free cell cannot satisfy a claim of two")
        let claim = try #require(ring.tryClaim(1))
        ring.publish(claim, at: 0, 8)
        ring.finishPublishing(claim)
        var values: [UInt64] = []
        _ = ring.drain(maximum: 100) { values.append($0) }
        #expect(values == Array(1...8).map(UInt64.init))
        #expect(ring.tryPop() == nil)
    }

    @Test("capacity must be a power of two", arguments: [0, 1, 3, 100, 1 << 25])
    func badCapacity(capacity: Int) {
        let error = #expect(throws: ConfigurationError.self) {
            _ = try SubmissionRing(capacity: capacity)
        }
        #expect(error?.field == "ringCapacity")
    }

    @Test("an exhausted slab says so; slots are handed out once")
    func exhaustedSlab() throws {
        let slab = try RequestSlab(count: 100)
        var taken = Set<UInt32>()
        while let index = slab.acquire() { #expect(taken.insert(index).inserted) }
        #expect(taken.count == 100)
        #expect(slab.acquire() == nil)
        slab.release(42)
        #expect(slab.acquire() == 42)
        for index in taken { slab.release(index) }
        #expect(slab.quiescentFreeCount() == 100)
    }

    @Test("slab slots (state word, then record) are cache-line aligned and distinct")
    func slabLayout() throws {
        let slab = try RequestSlab(count: 16)
        #expect(RequestSlab.recordByteStride % 64 == 0)
        for i in 0..<16 {
            // Each slot starts a line with its state word; the record follows it.
            #expect((Int(bitPattern: slab.record(UInt32(i))) - RequestSlab.recordOffset) % 64 == 0)
        }
        slab.record(3).pointee.tag = 7
        #expect(slab.record(4).pointee.tag == 0)
    }

    @Test("a request's round trip stays in its slot's first cache line")
    func handOffLine() {
        // What the worker reads to run a request and the result it writes share
        // the state word's line (the reaper reads result and tag from the
        // completion ring's cell, CompletionRingTests).
        #expect(RequestSlab.handOffBytes <= 64)
        for field: PartialKeyPath<RequestRecord> in [\.opcode, \.fd, \.offset, \.length, \.buffer, \.tag, \.result] {
            #expect(RequestSlab.recordOffset + MemoryLayout<RequestRecord>.offset(of: field)! < 64)
        }
    }
}
