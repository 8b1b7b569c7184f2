import CLibcap
import RealtimeIO
import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// ReadinessChecks — the checks behind `rtio-admin check`.
///
/// SYNOPSIS
///
///     let checks = ReadinessChecks.run(binary: nil)
///     exit(ReadinessChecks.exitCode(for: checks))
///
/// DESCRIPTION
///
/// `run(binary:)` inspects the kernel configuration (sysfs, procfs, `uname(2)`)
/// and the privileges real-time threads will have, and returns one
/// `ReadinessCheck` per `Name`, in `Name.allCases` order. It never throws: an
/// unreadable input becomes a warning that says what could not be read.
///
/// With `binary == nil` the privilege checks describe the calling process. With a
/// path they describe what that executable will get when started from this
/// process: its file capabilities (`setcap +ep`), or everything if this process
/// runs as root, plus this process's resource limits, which it inherits.
///
/// EXIT STATUS (`exitCode(for:)`)
///
///     0  every check passed
///     1  at least one warning, no failure
///     2  at least one failure
package enum ReadinessChecks {
    /// The checks, in the order `run(binary:)` reports them.
    package enum Name: String, CaseIterable, Sendable {
        /// CAP_SYS_NICE and CAP_IPC_LOCK of this process, or of `binary`.
        case capabilities
        /// RLIMIT_RTPRIO.
        case rtprioLimit = "rtprio-limit"
        /// RLIMIT_MEMLOCK.
        case memlockLimit = "memlock-limit"
        /// kernel.sched_rt_runtime_us real-time throttling.
        case rtThrottling = "rt-throttling"
        /// isolcpus= isolated CPUs.
        case isolatedCPUs = "isolated-cpus"
        /// nohz_full= adaptive-tick CPUs.
        case nohzFull = "nohz-full"
        /// A PREEMPT_RT kernel.
        case preemptRT = "preempt-rt"
        /// cpufreq scaling governor of each online CPU.
        case cpufreqGovernor = "cpufreq-governor"
        /// Active swap devices.
        case swap
        /// Transparent huge pages mode.
        case transparentHugepages = "transparent-hugepages"
    }

    /// The highest real-time priority the engine may be asked for; `rtprio-limit`
    /// passes only if the whole range 1...99 is available.
    package static let fullRealtimePriority = 99

    /// The real-time share an engine runs with when its configuration does not
    /// set one (``EngineConfiguration/realtimeSharePercent``'s default).
    package static var defaultRealtimeSharePercent: Int { EngineConfiguration(groups: []).realtimeSharePercent }

    /// Runs every check. See the type's documentation.
    ///
    /// - Parameters:
    ///   - binary: judge this executable's file capabilities instead of this process's.
    ///   - process: judge a running process's capabilities and limits instead (``ProcessPrivileges``).
    ///   - realtimeSharePercent: the engine's real-time share, for the throttling row
    ///     (default: what an engine runs with unless configured otherwise).
    package static func run(
        binary: String?, process: ProcessPrivileges? = nil, realtimeSharePercent: Int? = nil
    ) -> [ReadinessCheck] {
        var report = PrivilegeReport.current()
        if let process { report = process.report(basedOn: report) }
        var subject = Subject(report: report, binary: binary)
        if let process {
            subject.hasSysNice = process.sysNice
            subject.hasIPCLock = process.ipcLock
            subject.capabilityDetail = "pid \(process.pid) (uid \(process.effectiveUID)): CAP_SYS_NICE \(process.sysNice ? "effective" : "missing"), CAP_IPC_LOCK \(process.ipcLock ? "effective" : "missing")"
            subject.capabilityStatus = process.sysNice && process.ipcLock ? .pass : .fail
            subject.binary = "pid \(process.pid)"
        }
        let share = realtimeSharePercent ?? defaultRealtimeSharePercent
        return Name.allCases.map { name in
            switch name {
            case .capabilities: capabilities(subject)
            case .rtprioLimit: rtprioLimit(subject)
            case .memlockLimit: memlockLimit(subject)
            case .rtThrottling: rtThrottling(report, realtimeSharePercent: share)
            case .isolatedCPUs: isolatedCPUs()
            case .nohzFull: nohzFull()
            case .preemptRT: preemptRT()
            case .cpufreqGovernor: cpufreqGovernor()
            case .swap: swap()
            case .transparentHugepages: transparentHugepages()
            }
        }
    }

    /// 0 if every check passed, 1 if any warned (and none failed), 2 if any failed.
    package static func exitCode(for checks: [ReadinessCheck]) -> Int32 {
        switch checks.map(\.status).max() ?? .pass {
        case .pass: 0
        case .warn: 1
        case .fail: 2
        }
    }

    // MARK: - Subject (whose privileges are checked)

    /// The privileges the real-time threads will run with.
    struct Subject {
        var report: PrivilegeReport
        var binary: String?
        /// Whether the subject will have CAP_SYS_NICE / CAP_IPC_LOCK effective.
        var hasSysNice: Bool
        var hasIPCLock: Bool
        /// How the capabilities were determined, for the detail text.
        var capabilityDetail: String
        var capabilityStatus: ReadinessCheck.Status

        init(report: PrivilegeReport, binary: String?) {
            self.report = report
            self.binary = binary
            guard let binary else {
                hasSysNice = report.sysNice.effective
                hasIPCLock = report.ipcLock.effective
                capabilityDetail = "this process (uid \(report.effectiveUID)): CAP_SYS_NICE \(report.sysNice.summary),"
                    + " CAP_IPC_LOCK \(report.ipcLock.summary)"
                capabilityStatus = hasSysNice && hasIPCLock ? .pass : .fail
                return
            }
            do {
                let file = try PrivilegeReport.fileCapabilities(path: binary)
                let fileCaps = file.isEmpty ? "none" : file.description
                // execve(2): root gains its whole bounding set; others gain the file's
                // permitted capabilities (masked by the bounding set), effective with +e.
                let inBounds = (sysNice: cap_get_bound(Capability.sysNice.rawValue) == 1,
                                ipcLock: cap_get_bound(Capability.ipcLock.rawValue) == 1)
                hasSysNice = inBounds.sysNice && (report.isRoot || file.grants(.sysNice))
                hasIPCLock = inBounds.ipcLock && (report.isRoot || file.grants(.ipcLock))
                capabilityDetail = "\(binary): file capabilities \(fileCaps)"
                if report.isRoot {
                    capabilityDetail += "; started as root from here it gets its bounding set"
                }
                if !inBounds.sysNice || !inBounds.ipcLock {
                    capabilityDetail += "; this process's bounding set lacks"
                        + (inBounds.sysNice ? "" : " cap_sys_nice") + (inBounds.ipcLock ? "" : " cap_ipc_lock")
                }
                if !report.isRoot,
                   file.permitted.contains(.sysNice) != file.grants(.sysNice)
                    || file.permitted.contains(.ipcLock) != file.grants(.ipcLock) {
                    capabilityDetail += " (permitted without the effective bit: the engine does not raise them itself)"
                }
                capabilityStatus = hasSysNice && hasIPCLock ? .pass : .fail
            } catch {
                hasSysNice = false
                hasIPCLock = false
                capabilityDetail = error.description
                capabilityStatus = .fail
            }
        }

        var who: String { binary ?? "this process" }
    }

    // MARK: - Privilege checks

    static func capabilities(_ subject: Subject) -> ReadinessCheck {
        let name = Name.capabilities.rawValue
        var missing: [String] = []
        if !subject.hasSysNice { missing.append("cap_sys_nice") }
        if !subject.hasIPCLock { missing.append("cap_ipc_lock") }
        guard !missing.isEmpty else {
            return ReadinessCheck(name: name, status: .pass, detail: subject.capabilityDetail)
        }
        // Missing capabilities are survivable if the resource limits cover for them.
        let report = subject.report
        let limitsCover = (subject.hasSysNice || report.rtprio.soft.allows(UInt64(fullRealtimePriority)))
            && (subject.hasIPCLock || report.memlock.soft == .unlimited)
        let target = subject.binary ?? "BINARY"
        let remedy = "setcap \(missing.joined(separator: ","))+ep \(target)"
            + " (or, for a service, systemd AmbientCapabilities=CAP_SYS_NICE CAP_IPC_LOCK)"
            + (limitsCover ? "" : "; without them raise RLIMIT_RTPRIO and RLIMIT_MEMLOCK instead")
        let status: ReadinessCheck.Status = subject.capabilityStatus == .fail && !limitsCover ? .fail : .warn
        let note = limitsCover ? "; resource limits cover for the missing capabilities" : ""
        return ReadinessCheck(
            name: name, status: status,
            detail: subject.capabilityDetail + "; missing \(missing.joined(separator: ", "))" + note,
            remedy: remedy)
    }

    static func rtprioLimit(_ subject: Subject) -> ReadinessCheck {
        let name = Name.rtprioLimit.rawValue
        let limit = subject.report.rtprio
        let values = "RLIMIT_RTPRIO soft \(limit.soft), hard \(limit.hard)"
        if subject.hasSysNice {
            return ReadinessCheck(name: name, status: .pass, detail: "\(values) (not needed: \(subject.who) has CAP_SYS_NICE)")
        }
        if limit.soft.allows(UInt64(fullRealtimePriority)) {
            return ReadinessCheck(name: name, status: .pass, detail: "\(values): priorities 1-99 available without CAP_SYS_NICE")
        }
        let status: ReadinessCheck.Status
        let detail: String
        if case .limited(0) = limit.soft {
            status = .fail
            detail = "\(values), no CAP_SYS_NICE: SCHED_FIFO/SCHED_RR are not available"
        } else {
            status = .warn
            detail = "\(values), no CAP_SYS_NICE: real-time priorities above \(limit.soft) will be refused"
        }
        return ReadinessCheck(name: name, status: status, detail: detail, remedy: PrivilegeReport.realtimeRemedy)
    }

    static func memlockLimit(_ subject: Subject) -> ReadinessCheck {
        let name = Name.memlockLimit.rawValue
        let limit = subject.report.memlock
        let values = "RLIMIT_MEMLOCK soft \(describeBytes(limit.soft)), hard \(describeBytes(limit.hard))"
        if subject.hasIPCLock {
            return ReadinessCheck(name: name, status: .pass, detail: "\(values) (not needed: \(subject.who) has CAP_IPC_LOCK)")
        }
        if limit.soft == .unlimited {
            return ReadinessCheck(name: name, status: .pass, detail: "\(values): mlockall is allowed")
        }
        return ReadinessCheck(
            name: name, status: .warn,
            detail: "\(values), no CAP_IPC_LOCK: mlockall fails and locking more than the soft limit is refused",
            remedy: PrivilegeReport.memlockRemedy)
    }

    private static func describeBytes(_ value: ResourceLimitValue) -> String {
        switch value {
        case .unlimited: return "unlimited"
        case .limited(let bytes) where bytes >= 1 << 20 && bytes % (1 << 20) == 0: return "\(bytes >> 20) MiB"
        case .limited(let bytes) where bytes >= 1 << 10 && bytes % (1 << 10) == 0: return "\(bytes >> 10) KiB"
        case .limited(let bytes): return "\(bytes) bytes"
        }
    }

    // MARK: - Kernel checks

    /// Real-time throttling judged with the engine's real-time share: a worker
    /// that rests (demoted or asleep) after `realtimeSharePercent` % of each
    /// period never reaches a throttle that allows more, so the throttle stays
    /// as a safety net and the check passes; only a share above the throttle's
    /// ratio warns, and the remedy is a smaller share, not removing the net.
    static func rtThrottling(_ report: PrivilegeReport, realtimeSharePercent share: Int) -> ReadinessCheck {
        let name = Name.rtThrottling.rawValue
        guard let runtime = report.schedRTRuntimeMicroseconds else {
            return ReadinessCheck(
                name: name, status: .warn,
                detail: "cannot read \(PrivilegeReport.Path.schedRTRuntime)",
                remedy: "check that /proc is mounted")
        }
        let period = report.schedRTPeriodMicroseconds
        let periodText = period.map(String.init) ?? "unknown"
        let detail = "kernel.sched_rt_runtime_us = \(runtime), sched_rt_period_us = \(periodText)"
        if runtime < 0 {
            return ReadinessCheck(name: name, status: .pass, detail: "\(detail): no throttling")
        }
        if runtime == 0 {
            return ReadinessCheck(
                name: name, status: .fail, detail: "\(detail): real-time tasks get no CPU time",
                remedy: PrivilegeReport.rtRuntimeRemedy)
        }
        if let period, runtime >= period {
            return ReadinessCheck(name: name, status: .pass, detail: "\(detail): runtime covers the whole period")
        }
        if let period, period > 0 {
            let allowed = runtime * 100 / period
            if share < 100, share <= allowed {
                return ReadinessCheck(
                    name: name, status: .pass,
                    detail: "\(detail): real-time threads may run \(allowed) % of each period; the engine's real-time share"
                        + " (\(share) %) keeps its workers under that (the throttle stays as a safety net)")
            }
            if share < 100 {
                return ReadinessCheck(
                    name: name, status: .warn,
                    detail: "\(detail): real-time threads may run \(allowed) % of each period, but the engine's real-time share is \(share) %:"
                        + " a busy worker is throttled before it rests",
                    remedy: "set realtimeSharePercent to \(max(1, allowed)) or less in the engine configuration (keep the throttle as a safety net)")
            }
        }
        let stall = period.map { " stalled for \(($0 - runtime) / 1000) ms every \($0 / 1000) ms" } ?? " stalled each period"
        return ReadinessCheck(
            name: name, status: .warn,
            detail: "\(detail): real-time threads that never sleep are\(stall)"
                + " (the default safety net; busy-polling threads would hit it)",
            remedy: "give the engine a real-time share below the throttle (realtimeSharePercent < 100) rather than disabling it")
    }

    static func isolatedCPUs() -> ReadinessCheck {
        let name = Name.isolatedCPUs.rawValue
        let remedy = "add isolcpus=managed_irq,domain,LIST (e.g. isolcpus=managed_irq,domain,2-3) to the kernel"
            + " command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub and reboot)"
        do {
            let isolated = try SystemTopology.isolatedCPUs()
            if isolated.isEmpty {
                return ReadinessCheck(
                    name: name, status: .warn,
                    detail: "no isolated CPUs: real-time threads share CPUs with everything else",
                    remedy: remedy)
            }
            return ReadinessCheck(name: name, status: .pass, detail: "isolated CPUs \(isolated)")
        } catch {
            return ReadinessCheck(name: name, status: .warn, detail: error.description, remedy: remedy)
        }
    }

    static func nohzFull() -> ReadinessCheck {
        let name = Name.nohzFull.rawValue
        let remedy = "add nohz_full=LIST rcu_nocbs=LIST (the isolated CPUs) to the kernel command line;"
            + " needs a kernel built with CONFIG_NO_HZ_FULL"
        do {
            let cpus = try SystemTopology.nohzFullCPUs()
            if cpus.isEmpty {
                return ReadinessCheck(
                    name: name, status: .warn,
                    detail: "no nohz_full CPUs: the scheduler tick interrupts real-time threads",
                    remedy: remedy)
            }
            return ReadinessCheck(name: name, status: .pass, detail: "nohz_full CPUs \(cpus)")
        } catch {
            return ReadinessCheck(name: name, status: .warn, detail: error.description, remedy: remedy)
        }
    }

    static func preemptRT() -> ReadinessCheck {
        let name = Name.preemptRT.rawValue
        let system = UnameInfo.current()
        let flag = KernelFile.firstLine("/sys/kernel/realtime")
        if flag == "1" {
            return ReadinessCheck(name: name, status: .pass, detail: "/sys/kernel/realtime = 1 (\(system.release))")
        }
        if system.version.contains("PREEMPT_RT") {
            return ReadinessCheck(name: name, status: .pass, detail: "\(system.release): \(system.version)")
        }
        let package = system.machine == "aarch64" ? "linux-image-rt-arm64" : "linux-image-rt-amd64"
        return ReadinessCheck(
            name: name, status: .warn,
            detail: "not a PREEMPT_RT kernel (\(system.release): \(system.version)); worst-case latency is unbounded",
            remedy: "boot a PREEMPT_RT kernel (Debian: apt install \(package); mainline >= 6.12: CONFIG_PREEMPT_RT=y)")
    }

    /// No cpufreq at all passes: without a cpufreq driver the OS cannot change the
    /// frequency (virtual machines, or firmware-controlled CPUs), so there is
    /// nothing to fix from inside this OS, and a permanent warning would only
    /// teach people to ignore exit status 1.
    static func cpufreqGovernor() -> ReadinessCheck {
        let name = Name.cpufreqGovernor.rawValue
        let online: CPUList
        do {
            online = try SystemTopology.onlineCPUs()
        } catch {
            return ReadinessCheck(name: name, status: .warn, detail: error.description)
        }
        var byGovernor: [String: [Int]] = [:]
        for cpu in online {
            if let governor = KernelFile.firstLine("/sys/devices/system/cpu/cpu\(cpu)/cpufreq/scaling_governor") {
                byGovernor[governor, default: []].append(cpu)
            }
        }
        if byGovernor.isEmpty {
            return ReadinessCheck(
                name: name, status: .pass,
                detail: "no cpufreq (virtual machine?): the OS cannot change CPU frequency")
        }
        let summary = byGovernor.keys.sorted().map { governor in
            let cpus = (try? CPUList(byGovernor[governor]!)).map(\.description) ?? "?"
            return "\(governor) on CPUs \(cpus)"
        }.joined(separator: "; ")
        if byGovernor.keys.allSatisfy({ $0 == "performance" }) {
            return ReadinessCheck(name: name, status: .pass, detail: summary)
        }
        return ReadinessCheck(
            name: name, status: .warn,
            detail: "\(summary): frequency ramps add latency",
            remedy: "cpupower frequency-set -g performance"
                + " (or: echo performance | tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor)")
    }

    static func swap() -> ReadinessCheck {
        let name = Name.swap.rawValue
        let remedy = "swapoff -a (and remove swap from /etc/fstab), or lock the engine's memory"
            + " with mlockall(MCL_CURRENT|MCL_FUTURE) (needs CAP_IPC_LOCK or RLIMIT_MEMLOCK unlimited)"
        guard let text = try? KernelFile.contents(of: "/proc/swaps") else {
            return ReadinessCheck(name: name, status: .warn, detail: "cannot read /proc/swaps", remedy: "check that /proc is mounted")
        }
        let devices = text.split(separator: "\n").dropFirst().compactMap { line in
            line.split(whereSeparator: \.isWhitespace).first.map(String.init)
        }
        if devices.isEmpty {
            return ReadinessCheck(name: name, status: .pass, detail: "no swap")
        }
        return ReadinessCheck(
            name: name, status: .warn,
            detail: "swap active on \(devices.joined(separator: ", ")): unlocked pages can be swapped out and fault back in",
            remedy: remedy)
    }

    static func transparentHugepages() -> ReadinessCheck {
        let name = Name.transparentHugepages.rawValue
        let path = "/sys/kernel/mm/transparent_hugepage/enabled"
        guard let line = KernelFile.firstLine(path) else {
            return ReadinessCheck(name: name, status: .pass, detail: "no \(path) (THP not built in)")
        }
        let mode = selectedMode(line) ?? line
        if mode == "always" {
            return ReadinessCheck(
                name: name, status: .warn,
                detail: "THP = always: khugepaged collapses and compaction stalls cause latency spikes",
                remedy: "echo madvise > \(path) (or transparent_hugepage=madvise on the kernel command line)")
        }
        return ReadinessCheck(name: name, status: .pass, detail: "THP = \(mode)")
    }

    /// The bracketed choice in a sysfs multiple-choice file, e.g. `madvise` in
    /// `always [madvise] never`.
    static func selectedMode(_ line: String) -> String? {
        guard let open = line.firstIndex(of: "["),
              let close = line[open...].firstIndex(of: "]") else { return nil }
        return String(line[line.index(after: open)..<close])
    }
}
