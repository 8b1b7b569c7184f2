import CMallocCounter
import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

@Suite("Engine: steady state", .serialized, .tags(.allocationCounting, .needsRoot))
struct EngineSteadyStateTests {
    /// After warm-up, 10⁵ reads: 0 heap allocations on the submit→reap path
    /// (host thread) and in the workers, and 0 page faults in the workers.
    @Test("10⁵ reads: 0 allocations, 0 worker page faults")
    func zeroAllocationsAndFaults() throws {
        var config = testConfiguration(workers: 2, spin: 50_000)
        config.memoryLocking = .currentAndFuture
        let engine = try IOEngine(
            configuration: config,
            workerStartHook: WorkerStartHook({ _ in rtio_malloc_counter_track_current_thread(nil) }))
        defer { engine.shutdown() }
        let file = try TemporaryFile(size: 1 << 20)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { buffer.deallocate() }
        memset(buffer.baseAddress!, 1, 4096)
        var bytes = 0
        func readLoop(_ count: Int) throws {
            for i in 0..<count {
                let offset = Int64((i * 4096) % (1 << 20))
                try engine.submit(.read(file.fd, into: buffer, at: offset), tag: UInt64(i))
                var got = 0
                while got == 0 { got = engine.reap(rearm: i % 2 == 0) { c in bytes &+= c.result } }
            }
        }
        try readLoop(20_000)  // warm-up: code pages, lazy binding, caches
        let tids = engine.workerThreadIDs
        let faultsBefore = tids.map { ThreadStat.read(tid: $0)! }
        rtio_malloc_counter_track(true)
        let trackedBefore = rtio_malloc_counter_allocations()
        let hostBefore = rtio_malloc_counter_thread_allocations()
        try readLoop(100_000)
        let hostAfter = rtio_malloc_counter_thread_allocations()
        let trackedAfter = rtio_malloc_counter_allocations()
        rtio_malloc_counter_track(false)
        let faultsAfter = tids.map { ThreadStat.read(tid: $0)! }
        #expect(hostAfter - hostBefore == 0, "host submit→reap allocations: \(hostAfter - hostBefore)")
        #expect(trackedAfter - trackedBefore == 0, "host + worker allocations: \(trackedAfter - trackedBefore)")
        for (b, a) in zip(faultsBefore, faultsAfter) {
            #expect(a.minorFaults - b.minorFaults == 0, "worker minor faults: \(a.minorFaults - b.minorFaults)")
            #expect(a.majorFaults - b.majorFaults == 0, "worker major faults: \(a.majorFaults - b.majorFaults)")
        }
        #expect(bytes == 120_000 * 4096)
        // Positive control: an allocating call on the host is seen.
        rtio_malloc_counter_track(true)
        let c0 = rtio_malloc_counter_allocations()
        _ = engine.workerSnapshots()
        #expect(rtio_malloc_counter_allocations() > c0)
        rtio_malloc_counter_track(false)
    }
}
