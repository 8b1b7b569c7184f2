import CMallocCounter
import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import Testing

@Suite("Concurrency: request slab", .tags(.concurrency))
struct RequestSlabConcurrencyTests {
    /// Threads acquire and release concurrently; an owner table detects any
    /// slot handed to two threads at once (ABA on the free list would do that).
    @Test("no slot is owned twice under contention")
    func noDoubleOwnership() throws {
        let slots = 64
        let slab = try RequestSlab(count: slots)
        let owners = (0..<slots).map { _ in SharedCounter() }
        let failures = FailureLog()
        let iterations = scaled(200_000)
        let threads = (0..<4).map { t in
            startThread(name: "slab-\(t)") {
                var held: [UInt32] = []
                held.reserveCapacity(8)
                for i in 0..<iterations {
                    if held.count < 8, i % 3 != 2, let s = slab.acquire() {
                        if owners[Int(s)].atomic.exchange(t + 1, ordering: .acquiringAndReleasing) != 0 {
                            failures.record("slot \(s) handed out while owned")
                        }
                        held.append(s)
                    } else if let s = held.popLast() {
                        owners[Int(s)].atomic.store(0, ordering: .releasing)
                        slab.release(s)
                    }
                }
                for s in held { owners[Int(s)].atomic.store(0, ordering: .releasing); slab.release(s) }
            }
        }
        threads.forEach { $0.join() }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(3))")
        #expect(slab.quiescentFreeCount() == slots)
    }
}
