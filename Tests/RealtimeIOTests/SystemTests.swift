import CRealtimeIOShims
import Dispatch
import Foundation
import SystemPackage
import Testing

@testable import RealtimeIO
@testable import RealtimeIODiagnostics
@testable import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

// MARK: - CPUList

@Suite("System: CPUList")
struct SystemCPUListTests {
    @Test(arguments: [
        ("0-3,6", "0-3,6", [0, 1, 2, 3, 6]),
        ("1", "1", [1]),
        ("0,1", "0-1", [0, 1]),
        ("  0-1\n", "0-1", [0, 1]),
        ("6,0-3,2,3", "0-3,6", [0, 1, 2, 3, 6]),
        ("0-7:1/2", "0,2,4,6", [0, 2, 4, 6]),
        ("0-9:2/5", "0-1,5-6", [0, 1, 5, 6]),
        ("1, 3 ,5-6", "1,3,5-6", [1, 3, 5, 6]),
        ("1023", "1023", [1023]),
    ])
    func parsesAndFormats(input: String, formatted: String, cpus: [Int]) throws {
        let list = try CPUList(parsing: input)
        #expect(list.cpus == cpus)
        #expect(list.description == formatted)
        #expect(list.count == cpus.count)
        // Round trip through the compact form.
        #expect(try CPUList(parsing: list.description) == list)
    }

    @Test func emptyOnlyWhenAllowed() throws {
        #expect(try CPUList(parsing: "\n", allowEmpty: true).isEmpty)
        #expect(try CPUList(parsing: "", allowEmpty: true).description == "")
        let error = #expect(throws: CPUListError.self) { try CPUList(parsing: "") }
        #expect(error?.reason == .empty)
        #expect(error?.description == "invalid CPU list '': the list is empty; use a list like 0-3,6")
    }

    @Test(arguments: [
        ("a", CPUListError.Reason.notANumber("a")),
        ("3-1", .reversedRange(start: 3, end: 1)),
        ("1,,2", .emptyEntry),
        (",1", .emptyEntry),
        ("1,", .emptyEntry),
        ("-1", .negative),
        ("5000", .aboveMaximum(cpu: 5000, maximum: 1023)),
        ("0-5000", .aboveMaximum(cpu: 5000, maximum: 1023)),
        ("+1", .notANumber("+1")),
        ("0x1", .notANumber("0x1")),
        ("1-2-3", .notANumber("2-3")),
        ("0-7:3/2", .badStride("3/2")),
        ("3:1/2", .strideWithoutRange),
    ])
    func rejectsMalformed(input: String, reason: CPUListError.Reason) throws {
        #expect(CPUList.maximumCPU == 1023)
        let error = #expect(throws: CPUListError.self) { try CPUList(parsing: input) }
        #expect(error?.reason == reason)
        #expect(error?.description.hasPrefix("invalid CPU list '\(input)': ") == true)
        #expect(error?.description.hasSuffix("; use a list like 0-3,6") == true)
    }

    @Test func errorMessagesNameTheProblem() {
        func message(_ text: String) -> String {
            do {
                _ = try CPUList(parsing: text)
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(message("3-1") == "invalid CPU list '3-1': range end 1 is below start 3; use a list like 0-3,6")
        #expect(message("5000").contains("CPU 5000 is above the maximum 1023"))
        #expect(message("1,,2").contains("empty entry"))
        #expect(message("-1").contains("'-1' is negative"))
        #expect(message("a").contains("'a' is not a CPU number"))
        #expect(message("99999999999999999999999").contains("above the maximum"))
    }

    @Test func arrayInitSortsMergesAndValidates() throws {
        let list = try CPUList([6, 1, 1, 0, 2, 3])
        #expect(list.cpus == [0, 1, 2, 3, 6])
        #expect(list.description == "0-3,6")
        #expect(list.contains(6) && list.contains(0) && !list.contains(4) && !list.contains(7))
        #expect(try CPUList([0, 6]).isSubset(of: list))
        #expect(try !CPUList([0, 4]).isSubset(of: list))
        #expect(CPUList().isSubset(of: list))
        #expect(try list.intersection(CPUList([3, 4, 6])) == CPUList([3, 6]))
        #expect(try list.subtracting(CPUList([0, 1])).description == "2-3,6")
        #expect(try list.union(CPUList([4, 5])).description == "0-6")
        #expect(Array(list) == [0, 1, 2, 3, 6])

        #expect(throws: CPUListError.self) { try CPUList([1, -1]) }
        let tooBig = #expect(throws: CPUListError.self) { try CPUList([1024]) }
        #expect(tooBig?.reason == .aboveMaximum(cpu: 1024, maximum: 1023))
    }

    @Test func cpuSetRoundTrip() throws {
        for text in ["0", "0-3,6", "1023", "0,63-65,511,1000-1023"] {
            let list = try CPUList(parsing: text)
            var set = list.cpuSet
            #expect(Int(rtio_cpuset_count(&set)) == list.count)
            for cpu in 0...CPUList.maximumCPU {
                #expect(rtio_cpuset_contains(&set, Int32(cpu)) == list.contains(cpu))
            }
            #expect(CPUList(set) == list)
        }
        #expect(CPUList(rtio_cpu_set()).isEmpty)
    }

    @Test func codableUsesStringForm() throws {
        struct Wrapper: Codable, Equatable { var cpus: CPUList }
        let value = Wrapper(cpus: try CPUList(parsing: "0-3,6"))
        let data = try JSONEncoder().encode(value)
        #expect(String(decoding: data, as: UTF8.self) == #"{"cpus":"0-3,6"}"#)
        #expect(try JSONDecoder().decode(Wrapper.self, from: data) == value)
        #expect(try JSONDecoder().decode(Wrapper.self, from: Data(#"{"cpus":""}"#.utf8)).cpus.isEmpty)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Wrapper.self, from: Data(#"{"cpus":"3-1"}"#.utf8))
        }
    }
}

// MARK: - SystemTopology

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

// MARK: - PrivilegeReport

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

// MARK: - File capabilities

/// Runs a command, returning its exit status and combined output.
private func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

private func temporaryCopyOfTrue() throws -> String {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("rtio-system-tests-\(getpid())-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent("true").path
    try FileManager.default.copyItem(atPath: "/bin/true", toPath: path)
    return path
}

@Suite("System: file capabilities")
struct SystemFileCapabilityTests {
    @Test func setcapIsReadBack() throws {
        let path = try temporaryCopyOfTrue()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }

        // A fresh copy has no capabilities: empty, not an error.
        let before = try PrivilegeReport.fileCapabilities(path: path)
        #expect(before.isEmpty)
        #expect(before.description == "")

        let setcap = try run("/usr/sbin/setcap", ["cap_sys_nice+ep", path])
        // We run as root on a filesystem with xattrs (tmpfs/ext4/overlay); if this
        // fails, the output says why (e.g. "Operation not supported").
        try #require(setcap.status == 0, "setcap failed on \(path): \(setcap.output)")

        let after = try PrivilegeReport.fileCapabilities(path: path)
        #expect(after.permitted == [.sysNice])
        #expect(after.effective == [.sysNice])
        #expect(after.inheritable.isEmpty)
        #expect(after.grants(.sysNice))
        #expect(!after.grants(.ipcLock))
        #expect(after.description == "cap_sys_nice=ep")

        // Permitted without effective is visible as such.
        #expect(try run("/usr/sbin/setcap", ["cap_ipc_lock+p", path]).status == 0)
        let permittedOnly = try PrivilegeReport.fileCapabilities(path: path)
        #expect(permittedOnly.permitted == [.ipcLock])
        #expect(permittedOnly.effective.isEmpty)
        #expect(!permittedOnly.grants(.ipcLock))
    }

    @Test func missingFileIsAClearError() {
        let error = #expect(throws: FileCapabilitiesError.self) {
            try PrivilegeReport.fileCapabilities(path: "/nonexistent/rtio-binary")
        }
        #expect(error?.errno == .noSuchFileOrDirectory)
        #expect(error?.description.contains("/nonexistent/rtio-binary") == true)
        #expect(error?.description.contains("no such file") == true)
    }
}

// MARK: - Readiness checks

@Suite("System: readiness checks")
struct SystemReadinessTests {
    @Test func everyNamedCheckRunsOnce() throws {
        let checks = ReadinessChecks.run(binary: nil)
        #expect(checks.map(\.name) == ReadinessChecks.Name.allCases.map(\.rawValue))
        for check in checks {
            #expect(!check.detail.isEmpty, "\(check.name) has no detail")
            if check.status != .pass {
                #expect(check.remedy?.isEmpty == false, "\(check.name) is \(check.status) without a remedy")
            }
        }
        func status(_ name: ReadinessChecks.Name) throws -> ReadinessCheck {
            try #require(checks.first { $0.name == name.rawValue })
        }

        // Statuses agree with the files they come from.
        let runtime = try #require(PrivilegeReport.current().schedRTRuntimeMicroseconds)
        let expectedThrottling: ReadinessCheck.Status =
            runtime < 0 ? .pass : runtime == 0 ? .fail : runtime >= 1_000_000 ? .pass : .warn
        #expect(try status(.rtThrottling).status == expectedThrottling)

        let swaps = try String(contentsOfFile: "/proc/swaps", encoding: .utf8)
        let hasSwap = swaps.split(separator: "\n").count > 1
        #expect(try status(.swap).status == (hasSwap ? .warn : .pass))

        if let thp = try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8) {
            #expect(try status(.transparentHugepages).status == (thp.contains("[always]") ? .warn : .pass))
        }
        let isolated = try SystemTopology.isolatedCPUs()
        #expect(try status(.isolatedCPUs).status == (isolated.isEmpty ? .warn : .pass))

        let report = PrivilegeReport.current()
        let allCaps = report.sysNice.effective && report.ipcLock.effective
        #expect(try (status(.capabilities).status == .pass) == allCaps)
    }

    @Test func selectedModeParsing() {
        #expect(ReadinessChecks.selectedMode("always [madvise] never") == "madvise")
        #expect(ReadinessChecks.selectedMode("[always] madvise never") == "always")
        #expect(ReadinessChecks.selectedMode("always madvise never") == nil)
    }

    @Test func exitCodes() {
        func checks(_ statuses: ReadinessCheck.Status...) -> [ReadinessCheck] {
            statuses.map { ReadinessCheck(name: "x", status: $0, detail: "d") }
        }
        #expect(ReadinessChecks.exitCode(for: []) == 0)
        #expect(ReadinessChecks.exitCode(for: checks(.pass, .pass)) == 0)
        #expect(ReadinessChecks.exitCode(for: checks(.pass, .warn)) == 1)
        #expect(ReadinessChecks.exitCode(for: checks(.warn, .fail, .pass)) == 2)
    }

    @Test func binaryWithoutFileCapabilitiesOrMissing() throws {
        let missing = ReadinessChecks.run(binary: "/nonexistent/rtio-binary")
        let caps = try #require(missing.first { $0.name == "capabilities" })
        #expect(caps.status == .fail)
        #expect(caps.detail.contains("/nonexistent/rtio-binary"))
    }
}

// MARK: - rtio-admin check (child processes)

/// The built `rtio-admin`, which sits next to the test bundle in the build products directory.
private func rtioAdminPath() throws -> String {
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
    // The bundle may be a directory (…/RealtimeIOPackageTests.xctest/…) on some layouts.
    while directory.path != "/" {
        let candidate = directory.appendingPathComponent("rtio-admin").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        if directory.lastPathComponent == "debug" || directory.lastPathComponent == "release" { break }
        directory.deleteLastPathComponent()
    }
    Issue.record("rtio-admin is not built next to \(executable); run `swift build --scratch-path .build-sys` first")
    throw CancellationError()
}

private func decodeCheckOutput(_ output: String) throws -> (checks: [[String: Any]], exitCode: Int) {
    let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
    let checks = try #require(object?["checks"] as? [[String: Any]], "no checks in: \(output)")
    let exitCode = try #require(object?["exit_code"] as? Int, "no exit_code in: \(output)")
    return (checks, exitCode)
}

@Suite("System: rtio-admin check")
struct SystemAdminCheckTests {
    @Test func jsonMatchesExitStatus() throws {
        let admin = try rtioAdminPath()
        let result = try run(admin, ["check", "--json"])
        let decoded = try decodeCheckOutput(result.output)
        #expect(decoded.exitCode == Int(result.status))
        #expect(decoded.checks.compactMap { $0["name"] as? String } == ReadinessChecks.Name.allCases.map(\.rawValue))
        let statuses = decoded.checks.compactMap { $0["status"] as? String }
        let expected = statuses.contains("fail") ? 2 : statuses.contains("warn") ? 1 : 0
        #expect(decoded.exitCode == expected)

        let table = try run(admin, ["check"])
        #expect(table.status == result.status)
        #expect(table.output.hasPrefix("CHECK"))
        for name in ReadinessChecks.Name.allCases {
            #expect(table.output.contains(name.rawValue))
        }
    }

    @Test func unprivilegedChildFailsTheCapabilityCheck() throws {
        let admin = try rtioAdminPath()
        let capsh = "/usr/sbin/capsh"
        try #require(FileManager.default.isExecutableFile(atPath: capsh), "capsh (libcap2-bin) is needed")
        let result = try run(capsh, [
            "--drop=cap_sys_nice,cap_ipc_lock", "--",
            "-c", #"ulimit -r 0; exec "$0" check --json"#, admin,
        ])
        let decoded = try decodeCheckOutput(result.output)
        let capabilities = try #require(decoded.checks.first { $0["name"] as? String == "capabilities" })
        let status = capabilities["status"] as? String
        #expect(status == "fail" || status == "warn", "capabilities: \(capabilities)")
        #expect((capabilities["detail"] as? String)?.contains("cap_sys_nice") == true)
        #expect((capabilities["remedy"] as? String)?.contains("setcap") == true)
        let rtprio = try #require(decoded.checks.first { $0["name"] as? String == "rtprio-limit" })
        #expect(rtprio["status"] as? String == "fail", "rtprio-limit: \(rtprio)")
        #expect(decoded.exitCode >= 1)
        #expect(Int(result.status) == decoded.exitCode)
    }

    @Test func binaryOptionReportsFileCapabilities() throws {
        let admin = try rtioAdminPath()
        let withCaps = try temporaryCopyOfTrue()
        let without = try temporaryCopyOfTrue()
        defer {
            for path in [withCaps, without] {
                try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
            }
        }
        let setcap = try run("/usr/sbin/setcap", ["cap_sys_nice,cap_ipc_lock+ep", withCaps])
        try #require(setcap.status == 0, "setcap: \(setcap.output)")

        func capabilityCheck(_ launcher: String, _ arguments: [String]) throws -> [String: Any] {
            let result = try run(launcher, arguments)
            let decoded = try decodeCheckOutput(result.output)
            return try #require(decoded.checks.first { $0["name"] as? String == "capabilities" })
        }
        // As an unprivileged user (nobody), only file capabilities count.
        let asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups", admin, "check", "--json", "--binary"]
        let granted = try capabilityCheck("/usr/bin/setpriv", asNobody + [withCaps])
        #expect(granted["status"] as? String == "pass", "\(granted)")
        #expect((granted["detail"] as? String)?.contains("cap_ipc_lock=ep cap_sys_nice=ep") == true, "\(granted)")
        let bare = try capabilityCheck("/usr/bin/setpriv", asNobody + [without])
        #expect(bare["status"] as? String == "fail", "\(bare)")
        #expect((bare["detail"] as? String)?.contains("file capabilities none") == true, "\(bare)")

        // File capabilities are masked by the bounding set.
        let masked = try capabilityCheck("/usr/sbin/capsh", [
            "--drop=cap_sys_nice", "--", "-c", #"exec "$0" check --json --binary "$1""#, admin, withCaps,
        ])
        #expect(masked["status"] as? String == "fail", "\(masked)")
        #expect((masked["detail"] as? String)?.contains("bounding set lacks cap_sys_nice") == true, "\(masked)")
    }
}
