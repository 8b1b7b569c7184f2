import CMallocCounter
import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import Testing

@Suite("Submission ring: allocations", .tags(.allocationCounting))
struct SubmissionRingAllocationTests {
    @Test("10⁵ push/pop pairs and slot cycles allocate nothing")
    func zeroAllocations() throws {
        let ring = try SubmissionRing(capacity: 1024)
        let slab = try RequestSlab(count: 256)
        // Warm up (first calls may resolve lazy symbols).
        for i in 0..<1000 { _ = ring.tryPush(UInt64(i)); _ = ring.tryPop() }
        // Positive control: the counter sees an allocation on this thread.
        let controlBefore = rtio_malloc_counter_thread_allocations()
        let array = [Int](repeating: 1, count: Int.random(in: 10...20))
        #expect(rtio_malloc_counter_thread_allocations() > controlBefore, "malloc counter is not counting")
        #expect(array.count >= 10)

        var checksum: UInt64 = 0
        let before = rtio_malloc_counter_thread_allocations()
        for i in 0..<100_000 {
            guard let slot = slab.acquire() else { break }
            _ = ring.tryPush(UInt64(slot))
            if let value = ring.tryPop() {
                checksum &+= value
                slab.release(UInt32(value))
            }
            if i % 16 == 0, let claim = ring.tryClaim(4) {
                for k in 0..<4 { ring.publish(claim, at: k, UInt64(k)) }
                ring.finishPublishing(claim)
                _ = ring.drain(maximum: 4) { checksum &+= $0 }
            }
        }
        let after = rtio_malloc_counter_thread_allocations()
        #expect(after - before == 0, "heap allocations in steady state: \(after - before)")
        #expect(checksum > 0)
    }
}
