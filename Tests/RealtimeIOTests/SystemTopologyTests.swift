import CRealtimeIOShims
import Dispatch
import Foundation
import SystemPackage
import Testing

@testable import RealtimeIO
@testable import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

/// State shared with a pthread created by the affinity test.
private final class AffinityProbe: @unchecked Sendable {
    var tid: pid_t = 0
    var cpuAfterRelease: Int32 = -1
    let started = DispatchSemaphore(value: 0)
    let release = DispatchSemaphore(value: 0)
}

@Suite("System: topology")
struct SystemTopologyTests {
    @Test func onlineCPUsMatchSysconf() throws {
        let online = try SystemTopology.onlineCPUs()
        #expect(online.count == sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #expect(online.contains(0))
        #expect(try SystemTopology.allowedCPUs().isSubset(of: online))
    }

    @Test func isolatedAndNohzFullAreSubsetsOfPossibleCPUs() throws {
        let possible = try CPUList(parsing: try KernelFile.contents(of: "/sys/devices/system/cpu/possible"))
        let isolated = try SystemTopology.isolatedCPUs()
        #expect(isolated.isSubset(of: possible))
        let raw = try KernelFile.contents(of: SystemTopology.Path.isolated)
        #expect(isolated == (try CPUList(parsing: raw, allowEmpty: true)))
        #expect(try SystemTopology.nohzFullCPUs().isSubset(of: possible))
    }

    @Test func affinityRoundTripOnARealThread() throws {
        let online = try SystemTopology.onlineCPUs()
        let target = try #require(online.cpus.last)
        let probe = AffinityProbe()
        var thread = pthread_t()
        let context = Unmanaged.passRetained(probe).toOpaque()
        let created = pthread_create(&thread, nil, { argument in
            let probe = Unmanaged<AffinityProbe>.fromOpaque(argument!).takeRetainedValue()
            probe.tid = rtio_gettid()
            probe.started.signal()
            probe.release.wait()
            probe.cpuAfterRelease = rtio_sched_getcpu()
            return nil
        }, context)
        try #require(created == 0, "pthread_create failed: \(created)")
        probe.started.wait()
        var joined = false
        defer {
            if !joined {
                probe.release.signal()
                pthread_join(thread, nil)
            }
        }
        let tid = probe.tid
        #expect(tid > 0 && tid != rtio_gettid())

        let only = try CPUList([target])
        try SystemTopology.setAllowedCPUs(only, tid: tid)
        #expect(try SystemTopology.allowedCPUs(tid: tid) == only)
        // The test's own thread is unaffected.
        #expect(try SystemTopology.allowedCPUs() != only || online.count == 1)

        // A CPU that is not online is refused with EINVAL and a helpful message.
        let offline = CPUList.maximumCPU
        try #require(!online.contains(offline))
        let error = #expect(throws: SystemTopologyError.self) {
            try SystemTopology.setAllowedCPUs(try CPUList([offline]), tid: tid)
        }
        #expect(error?.errno == .invalidArgument)
        #expect(error?.description.contains("none of those CPUs is online") == true)
        #expect(try SystemTopology.allowedCPUs(tid: tid) == only)

        let empty = #expect(throws: SystemTopologyError.self) {
            try SystemTopology.setAllowedCPUs(CPUList(), tid: tid)
        }
        #expect(empty == .emptyAffinity(tid: tid))

        probe.release.signal()
        pthread_join(thread, nil)
        joined = true
        #expect(probe.cpuAfterRelease == Int32(target))
        // Joined thread: its id goes away. pthread_join returns when the kernel
        // clears the thread's tid word, which happens in the exit path before
        // the task is unhashed: for a moment the tid still answers.
        #expect(waitUntil(seconds: 5) { (try? SystemTopology.allowedCPUs(tid: tid)) == nil })
        let gone = #expect(throws: SystemTopologyError.self) { try SystemTopology.allowedCPUs(tid: tid) }
        #expect(gone?.errno == .noSuchProcess)
    }

    @Test func missingFileIsReportedWithPath() {
        let error = #expect(throws: KernelFileError.self) {
            try KernelFile.contents(of: "/sys/devices/system/cpu/no-such-file")
        }
        #expect(error?.errno == .noSuchFileOrDirectory)
        #expect(error?.description.contains("/sys/devices/system/cpu/no-such-file") == true)
    }
}
