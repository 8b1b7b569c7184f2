import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage

/// An engine configuration for tests: small, parks at once unless told otherwise.
func testConfiguration(
    workers: Int = 2, scheduling: SchedulingPolicy = .other(nice: 0), cpus: CPUList? = nil,
    ring: Int = 256, slots: Int = 1024, spin: Int = 0
) -> EngineConfiguration {
    EngineConfiguration(
        groups: [.init(name: "t", workers: workers, cpus: cpus, scheduling: scheduling)],
        ringCapacity: ring, requestsInFlight: slots, spinBudget: .nanoseconds(spin))
}

/// Reaps until `count` completions arrived or `seconds` passed, sleeping on
/// the completion eventfd in between (``IOEngine/reap(waitingUpTo:spinFor:maximum:_:)``).
func reapAll(_ engine: IOEngine, count: Int, seconds: Double = 10) -> [IOCompletion] {
    var all: [IOCompletion] = []
    all.reserveCapacity(count)
    let deadline = rtio_monotonic_ns() + UInt64(seconds * 1e9)
    while all.count < count {
        let now = rtio_monotonic_ns()
        if now >= deadline { break }
        engine.reap(waitingUpTo: .nanoseconds(Int64(deadline - now))) { all.append($0) }
    }
    return all
}

/// Blocks the worker until the flag behind `context` (an Atomic<Bool>) is set.
let blockUntilReleased: CustomBlockingCall = { context in
    let flag = context!.assumingMemoryBound(to: Atomic<Bool>.self)
    while !flag.pointee.load(ordering: .acquiring) { usleep(100) }
    return 0
}
