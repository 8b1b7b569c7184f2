import CLibcap
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

import RealtimeIOLinux

/// PrivilegeReport — what the current process may do to get real-time behaviour.
///
/// SYNOPSIS
///
///     let report = PrivilegeReport.current()
///     let verdict = report.canUseRealtimePriority(80)
///     if !verdict.allowed { print(verdict.reason, verdict.remedy ?? "") }
///
/// DESCRIPTION
///
/// A snapshot of the inputs the kernel consults when a thread asks for a real-time
/// scheduling policy, a negative nice value, or locked memory:
///
/// - `CAP_SYS_NICE` and `CAP_IPC_LOCK` in the effective and permitted sets
///   (`capabilities(7)`; read with libcap's `cap_get_proc(3)`);
/// - `RLIMIT_RTPRIO`, `RLIMIT_NICE` and `RLIMIT_MEMLOCK` (`getrlimit(2)`);
/// - `kernel.sched_rt_runtime_us` / `kernel.sched_rt_period_us` (`sched(7)`, "Limiting
///   the CPU usage of real-time and deadline processes");
/// - the real and effective user ids.
///
/// The kernel decides on capabilities, not on uid: a root process that dropped
/// `CAP_SYS_NICE` is treated like any other user. The `can…` methods apply the
/// kernel's rules to the snapshot and return a `PrivilegeVerdict` that explains
/// itself and, when the answer is no, says how to fix it.
///
/// The snapshot is taken once; it does not follow later `setrlimit` or `capset` calls.
public struct PrivilegeReport: Hashable, Sendable, Codable {
    /// The real user id (`getuid(2)`).
    public var realUID: UInt32
    /// The effective user id (`geteuid(2)`).
    public var effectiveUID: UInt32
    /// `CAP_SYS_NICE`: real-time policies, negative nice, other users' affinity.
    public var sysNice: CapabilityState
    /// `CAP_IPC_LOCK`: `mlock`/`mlockall` beyond `RLIMIT_MEMLOCK`.
    public var ipcLock: CapabilityState
    /// `RLIMIT_RTPRIO`: highest `SCHED_FIFO`/`SCHED_RR` priority without `CAP_SYS_NICE`.
    public var rtprio: ResourceLimit
    /// `RLIMIT_NICE`: lowest nice value reachable is `20 - soft` without `CAP_SYS_NICE`.
    public var nice: ResourceLimit
    /// `RLIMIT_MEMLOCK`, in bytes.
    public var memlock: ResourceLimit
    /// `/proc/sys/kernel/sched_rt_runtime_us`: -1 = no throttling, 0 = real-time
    /// tasks never run; `nil` if the file could not be read.
    public var schedRTRuntimeMicroseconds: Int?
    /// `/proc/sys/kernel/sched_rt_period_us`; `nil` if the file could not be read.
    public var schedRTPeriodMicroseconds: Int?

    /// Whether the process runs with effective uid 0. Note that uid 0 alone grants
    /// nothing once capabilities have been dropped; see `sysNice` and `ipcLock`.
    public var isRoot: Bool { effectiveUID == 0 }

    /// A report with the given inputs (for tests and what-if questions).
    public init(
        realUID: UInt32, effectiveUID: UInt32,
        sysNice: CapabilityState, ipcLock: CapabilityState,
        rtprio: ResourceLimit, nice: ResourceLimit, memlock: ResourceLimit,
        schedRTRuntimeMicroseconds: Int?, schedRTPeriodMicroseconds: Int?
    ) {
        self.realUID = realUID
        self.effectiveUID = effectiveUID
        self.sysNice = sysNice
        self.ipcLock = ipcLock
        self.rtprio = rtprio
        self.nice = nice
        self.memlock = memlock
        self.schedRTRuntimeMicroseconds = schedRTRuntimeMicroseconds
        self.schedRTPeriodMicroseconds = schedRTPeriodMicroseconds
    }

    /// Paths of the throttling knobs read by `current()`.
    package enum Path {
        package static let schedRTRuntime = "/proc/sys/kernel/sched_rt_runtime_us"
        package static let schedRTPeriod = "/proc/sys/kernel/sched_rt_period_us"
    }

    /// A snapshot of the calling process. Never fails: an unreadable input is
    /// reported as absent (capability clear, throttling knob `nil`).
    public static func current() -> PrivilegeReport {
        var sysNice = CapabilityState(effective: false, permitted: false)
        var ipcLock = CapabilityState(effective: false, permitted: false)
        if let caps = cap_get_proc() {
            sysNice = CapabilityState(caps, Capability.sysNice)
            ipcLock = CapabilityState(caps, Capability.ipcLock)
            cap_free(UnsafeMutableRawPointer(caps))
        }
        return PrivilegeReport(
            realUID: getuid(), effectiveUID: geteuid(),
            sysNice: sysNice, ipcLock: ipcLock,
            rtprio: ResourceLimit(resource: Int32(__RLIMIT_RTPRIO.rawValue)),
            nice: ResourceLimit(resource: Int32(__RLIMIT_NICE.rawValue)),
            memlock: ResourceLimit(resource: Int32(__RLIMIT_MEMLOCK.rawValue)),
            schedRTRuntimeMicroseconds: KernelFile.integer(Path.schedRTRuntime),
            schedRTPeriodMicroseconds: KernelFile.integer(Path.schedRTPeriod)
        )
    }

    // MARK: Verdicts

    /// The remedy printed when real-time scheduling is not permitted.
    package static let realtimeRemedy =
        "grant it: setcap cap_sys_nice,cap_ipc_lock+ep BINARY, or raise RLIMIT_RTPRIO"
        + " (ulimit -r 99; or '@audio - rtprio 99' in /etc/security/limits.conf;"
        + " systemd: LimitRTPRIO=99)"
    /// The remedy printed when a negative nice value is not permitted.
    package static let niceRemedy =
        "grant it: setcap cap_sys_nice+ep BINARY, or raise RLIMIT_NICE"
        + " (ulimit -e 40; or '@audio - nice -20' in /etc/security/limits.conf; systemd: LimitNICE=-20)"
    /// The remedy printed when locking memory is not permitted.
    package static let memlockRemedy =
        "grant it: setcap cap_ipc_lock+ep BINARY, or raise RLIMIT_MEMLOCK"
        + " (ulimit -l unlimited; or '@audio - memlock unlimited' in /etc/security/limits.conf;"
        + " systemd: LimitMEMLOCK=infinity)"
    /// The remedy printed when real-time tasks are given no CPU time.
    package static let rtRuntimeRemedy =
        "give real-time tasks CPU time: sysctl -w kernel.sched_rt_runtime_us=-1"
        + " (no throttling) or =950000 (the default 95%)"

    /// May a thread of this process switch to `SCHED_FIFO`/`SCHED_RR` at `priority`?
    ///
    /// Yes if `CAP_SYS_NICE` is effective or the `RLIMIT_RTPRIO` soft limit is at
    /// least `priority` — unless `kernel.sched_rt_runtime_us` is 0, in which case
    /// the switch may succeed but real-time tasks are never scheduled.
    public func canUseRealtimePriority(_ priority: Int) -> PrivilegeVerdict {
        guard (1...99).contains(priority) else {
            return .denied(
                "real-time priority \(priority) is out of range; SCHED_FIFO/SCHED_RR priorities are 1...99",
                remedy: "pick a priority between 1 and 99")
        }
        if schedRTRuntimeMicroseconds == 0 {
            return .denied(
                "kernel.sched_rt_runtime_us is 0: real-time tasks get no CPU time at all",
                remedy: Self.rtRuntimeRemedy)
        }
        if sysNice.effective {
            return .allowed("CAP_SYS_NICE is effective")
        }
        if rtprio.soft.allows(UInt64(priority)) {
            return .allowed("RLIMIT_RTPRIO soft limit \(rtprio.soft) >= \(priority)")
        }
        return .denied(
            "priority \(priority) needs CAP_SYS_NICE (\(sysNice.summary)) or RLIMIT_RTPRIO >= \(priority)"
                + " (soft \(rtprio.soft), hard \(rtprio.hard))"
                + hint(permitted: sysNice, capability: "CAP_SYS_NICE", hard: rtprio.hard, needed: UInt64(priority)),
            remedy: Self.realtimeRemedy)
    }

    /// May a thread of this process take the real-time I/O priority class
    /// (`ioprio_set(2)` with IOPRIO_CLASS_RT)? Yes with `CAP_SYS_NICE`
    /// effective (the kernel also accepts `CAP_SYS_ADMIN`, which this report
    /// does not track); no rlimit grants it. The best-effort and idle classes
    /// need nothing.
    public func canUseRealtimeIOPriority() -> PrivilegeVerdict {
        if sysNice.effective { return .allowed("CAP_SYS_NICE is effective") }
        return .denied(
            "the real-time I/O priority class needs CAP_SYS_NICE (\(sysNice.summary)); no rlimit grants it",
            remedy: "grant it: setcap cap_sys_nice+ep BINARY (systemd: AmbientCapabilities=CAP_SYS_NICE), or use {\"bestEffort\": 0} (the highest best-effort level)")
    }

    /// May a thread of this process set its nice value to `nice` (-20...19)?
    ///
    /// Raising the nice value (>= 0) needs nothing. A negative value needs
    /// `CAP_SYS_NICE` or an `RLIMIT_NICE` soft limit with `20 - nice <= limit`.
    public func canSetNice(_ nice: Int) -> PrivilegeVerdict {
        guard (-20...19).contains(nice) else {
            return .denied("nice value \(nice) is out of range -20...19", remedy: "pick a nice value between -20 and 19")
        }
        if nice >= 0 {
            return .allowed("a non-negative nice value needs no privilege")
        }
        if sysNice.effective {
            return .allowed("CAP_SYS_NICE is effective")
        }
        let needed = UInt64(20 - nice)
        if self.nice.soft.allows(needed) {
            return .allowed("RLIMIT_NICE soft limit \(self.nice.soft) >= 20 - (\(nice)) = \(needed)")
        }
        return .denied(
            "nice \(nice) needs CAP_SYS_NICE (\(sysNice.summary)) or RLIMIT_NICE >= \(needed)"
                + " (soft \(self.nice.soft), hard \(self.nice.hard))"
                + hint(permitted: sysNice, capability: "CAP_SYS_NICE", hard: self.nice.hard, needed: needed),
            remedy: Self.niceRemedy)
    }

    /// May this process lock `bytes` of memory (`mlock`), or — with `nil` — all of
    /// its current and future memory (`mlockall(MCL_CURRENT|MCL_FUTURE)`)?
    ///
    /// Yes if `CAP_IPC_LOCK` is effective, or `RLIMIT_MEMLOCK` is unlimited, or (for
    /// a byte count) its soft limit is at least `bytes`. The limit counts all memory
    /// the process already has locked.
    public func canLockMemory(bytes: Int?) -> PrivilegeVerdict {
        if let bytes, bytes < 0 {
            return .denied("cannot lock a negative byte count (\(bytes))", remedy: "pass a byte count >= 0")
        }
        if ipcLock.effective {
            return .allowed("CAP_IPC_LOCK is effective")
        }
        if memlock.soft == .unlimited {
            return .allowed("RLIMIT_MEMLOCK is unlimited")
        }
        let what = bytes.map { "locking \($0) bytes" } ?? "locking all memory (mlockall)"
        if let bytes, memlock.soft.allows(UInt64(bytes)) {
            return .allowed("RLIMIT_MEMLOCK soft limit \(memlock.soft) bytes >= \(bytes)")
        }
        let limitText = bytes == nil ? "an unlimited RLIMIT_MEMLOCK" : "RLIMIT_MEMLOCK >= \(bytes!) bytes"
        return .denied(
            "\(what) needs CAP_IPC_LOCK (\(ipcLock.summary)) or \(limitText)"
                + " (soft \(memlock.soft), hard \(memlock.hard))"
                + hint(permitted: ipcLock, capability: "CAP_IPC_LOCK", hard: memlock.hard,
                       needed: bytes.map(UInt64.init) ?? UInt64.max),
            remedy: Self.memlockRemedy)
    }

    private func hint(permitted state: CapabilityState, capability: String, hard: ResourceLimitValue, needed: UInt64) -> String {
        if state.permitted && !state.effective {
            return "; \(capability) is permitted but not effective: the process can raise it itself (cap_set_proc)"
        }
        if needed == UInt64.max ? hard == .unlimited : hard.allows(needed) {
            return "; the hard limit allows it: raise the soft limit (setrlimit, or ulimit in the parent shell)"
        }
        return ""
    }
}
