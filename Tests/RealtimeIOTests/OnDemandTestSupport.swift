import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

// MARK: helpers

/// Filled in by `probeCall` on the worker that runs the request.
struct OnDemandProbe {
    var sleepMicroseconds: UInt32 = 0
    var tid: Int32 = 0
    var cpuMask: UInt64 = 0
}

/// The CPUs thread `tid` (0: the caller) may run on, as a bit mask of CPUs 0...63.
func allowedCPUMask(tid: pid_t = 0) -> UInt64 {
    var set = rtio_cpu_set()
    guard rtio_sched_getaffinity_tid(tid, &set) == 0 else { return 0 }
    var mask: UInt64 = 0
    for cpu in 0..<64 where rtio_cpuset_contains(&set, Int32(cpu)) { mask |= 1 << UInt64(cpu) }
    return mask
}

func pinCallingThread(to cpu: Int32) {
    var set = rtio_cpu_set()
    rtio_cpuset_zero(&set)
    rtio_cpuset_add(&set, cpu)
    precondition(rtio_sched_setaffinity_tid(0, &set) == 0)
}

/// Records the worker's tid and allowed CPUs, then sleeps so that a burst needs threads.
let probeCall: CustomBlockingCall = { context in
    let probe = context!.assumingMemoryBound(to: OnDemandProbe.self)
    probe.pointee.tid = rtio_gettid()
    probe.pointee.cpuMask = allowedCPUMask()
    if probe.pointee.sleepMicroseconds > 0 { usleep(probe.pointee.sleepMicroseconds) }
    return 0
}

/// Returns its context as an Int: a completion carries proof of which request ran.
let echoCall: CustomBlockingCall = { context in Int(bitPattern: context) }

/// context → two atomics: [0] set when it started, [1] released by the test.
let blockerCall: CustomBlockingCall = { context in
    let flags = context!.assumingMemoryBound(to: Atomic<Int>.self)
    flags.pointee.store(1, ordering: .releasing)
    while (flags + 1).pointee.load(ordering: .acquiring) == 0 { usleep(1000) }
    return 7
}

/// Threads of this process named rtio-od* (on-demand workers and spawner threads).
func onDemandThreadCount() -> Int {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tasks.filter { tid in
        ((try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8)) ?? "").hasPrefix("rtio-od")
    }.count
}

func onDemandConfiguration(
    spawner: OnDemandPool.Spawner, maxThreads: Int = 64, idle: Double = 0.2, slots: Int = 1024
) -> EngineConfiguration {
    EngineConfiguration(
        groups: [], requestsInFlight: slots, spinBudget: .nanoseconds(0),
        onDemand: EngineConfiguration.OnDemand(maxThreads: maxThreads, idleTimeout: .seconds(idle), spawner: spawner))
}

/// Fills slot `slot` of `slab` with a custom call.
func fillCustom(_ slab: RequestSlab, _ slot: UInt32, _ call: @escaping CustomBlockingCall, _ context: UnsafeMutableRawPointer?) {
    let r = slab.record(slot)
    r.pointee.opcode = .custom
    r.pointee.custom = call
    r.pointee.buffer = context
    r.pointee.result = 0
}
