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

/// Bits of a capability set line (`CapEff:`, `CapPrm:`) in /proc/self/status.
private func statusCapabilityBits(_ field: String) throws -> UInt64 {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    let line = try #require(status.split(separator: "\n").first { $0.hasPrefix(field + ":") })
    let hex = line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces)
    return try #require(UInt64(hex, radix: 16))
}

@Suite("System: privileges")
struct SystemPrivilegeTests {
    @Test func reportMatchesKernelView() throws {
        let report = PrivilegeReport.current()
        #expect(report.realUID == getuid())
        #expect(report.effectiveUID == geteuid())
        #expect(report.isRoot == (geteuid() == 0))

        let effective = try statusCapabilityBits("CapEff")
        let permitted = try statusCapabilityBits("CapPrm")
        #expect(report.sysNice.effective == (effective & (1 << 23) != 0))
        #expect(report.sysNice.permitted == (permitted & (1 << 23) != 0))
        #expect(report.ipcLock.effective == (effective & (1 << 14) != 0))
        #expect(report.ipcLock.permitted == (permitted & (1 << 14) != 0))

        var limit = rlimit()
        getrlimit(__rlimit_resource_t(__RLIMIT_RTPRIO.rawValue), &limit)
        #expect(report.rtprio.soft == ResourceLimitValue(rawValue: limit.rlim_cur))
        #expect(report.rtprio.hard == ResourceLimitValue(rawValue: limit.rlim_max))
        getrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &limit)
        #expect(report.memlock.soft == ResourceLimitValue(rawValue: limit.rlim_cur))

        let runtime = try String(contentsOfFile: PrivilegeReport.Path.schedRTRuntime, encoding: .utf8)
        #expect(report.schedRTRuntimeMicroseconds == Int(runtime.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(report.schedRTPeriodMicroseconds != nil)

        // The verdicts agree with the raw inputs for this process.
        let canRT = report.sysNice.effective || report.rtprio.soft.allows(50)
        #expect(report.canUseRealtimePriority(50).allowed == (canRT && report.schedRTRuntimeMicroseconds != 0))
        #expect(report.canLockMemory(bytes: nil).allowed == (report.ipcLock.effective || report.memlock.soft == .unlimited))
    }

    private func report(
        sysNice: Bool = false, ipcLock: Bool = false,
        rtprio: ResourceLimitValue = .limited(0), nice: ResourceLimitValue = .limited(0),
        memlock: ResourceLimitValue = .limited(8 << 20), runtime: Int? = 950_000
    ) -> PrivilegeReport {
        PrivilegeReport(
            realUID: 1000, effectiveUID: 1000,
            sysNice: CapabilityState(effective: sysNice, permitted: sysNice),
            ipcLock: CapabilityState(effective: ipcLock, permitted: ipcLock),
            rtprio: ResourceLimit(soft: rtprio, hard: rtprio),
            nice: ResourceLimit(soft: nice, hard: nice),
            memlock: ResourceLimit(soft: memlock, hard: memlock),
            schedRTRuntimeMicroseconds: runtime, schedRTPeriodMicroseconds: 1_000_000)
    }

    @Test func realtimeVerdicts() {
        #expect(report(sysNice: true).canUseRealtimePriority(99).allowed)
        #expect(report(rtprio: .limited(10)).canUseRealtimePriority(10).allowed)
        let denied = report(rtprio: .limited(10)).canUseRealtimePriority(11)
        #expect(!denied.allowed)
        #expect(denied.remedy == PrivilegeReport.realtimeRemedy)
        #expect(denied.remedy?.contains("setcap cap_sys_nice,cap_ipc_lock+ep BINARY") == true)
        #expect(denied.remedy?.contains("ulimit -r 99") == true)
        #expect(denied.reason.contains("RLIMIT_RTPRIO"))
        // No CPU time for real-time tasks beats any privilege.
        let throttled = report(sysNice: true, runtime: 0).canUseRealtimePriority(1)
        #expect(!throttled.allowed)
        #expect(throttled.reason.contains("sched_rt_runtime_us is 0"))
        #expect(report(sysNice: true, runtime: -1).canUseRealtimePriority(1).allowed)
        #expect(!report(sysNice: true).canUseRealtimePriority(0).allowed)
        #expect(!report(sysNice: true).canUseRealtimePriority(100).allowed)
        // Permitted-but-not-effective is called out.
        var permittedOnly = report()
        permittedOnly.sysNice = CapabilityState(effective: false, permitted: true)
        #expect(permittedOnly.canUseRealtimePriority(1).reason.contains("permitted but not effective"))
    }

    @Test func niceVerdicts() {
        #expect(report().canSetNice(5).allowed)
        #expect(report().canSetNice(0).allowed)
        #expect(!report().canSetNice(-1).allowed)
        #expect(report(sysNice: true).canSetNice(-20).allowed)
        // RLIMIT_NICE 30 allows down to 20 - 30 = -10.
        #expect(report(nice: .limited(30)).canSetNice(-10).allowed)
        #expect(!report(nice: .limited(30)).canSetNice(-11).allowed)
        #expect(report(nice: .limited(30)).canSetNice(-11).remedy == PrivilegeReport.niceRemedy)
        #expect(!report(sysNice: true).canSetNice(-21).allowed)
    }

    @Test func memlockVerdicts() {
        #expect(report(ipcLock: true).canLockMemory(bytes: nil).allowed)
        #expect(report(memlock: .unlimited).canLockMemory(bytes: nil).allowed)
        #expect(!report().canLockMemory(bytes: nil).allowed)
        #expect(report().canLockMemory(bytes: 8 << 20).allowed)
        let denied = report().canLockMemory(bytes: (8 << 20) + 1)
        #expect(!denied.allowed)
        #expect(denied.remedy == PrivilegeReport.memlockRemedy)
        #expect(denied.remedy?.contains("ulimit -l unlimited") == true)
    }

    @Test func resourceLimitValueCoding() throws {
        let limit = ResourceLimit(soft: .limited(8_388_608), hard: .unlimited)
        let data = try JSONEncoder().encode(limit)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""soft":8388608"#) && text.contains(#""hard":"unlimited""#))
        #expect(try JSONDecoder().decode(ResourceLimit.self, from: data) == limit)
        #expect(ResourceLimitValue(rawValue: rlim_t.max) == .unlimited)
        #expect(try JSONDecoder().decode([Capability].self, from: Data(#"["cap_sys_nice"]"#.utf8)) == [.sysNice])
    }
}
