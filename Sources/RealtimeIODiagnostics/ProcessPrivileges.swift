import RealtimeIO
import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

/// ProcessPrivileges — another process's capabilities, resource limits and CPU
/// set, read from /proc (for `rtio-admin check --pid`).
///
/// `CapEff` of /proc/PID/status gives CAP_SYS_NICE (bit 23) and CAP_IPC_LOCK
/// (bit 14); /proc/PID/limits the soft and hard RLIMIT_RTPRIO, RLIMIT_NICE and
/// RLIMIT_MEMLOCK; /proc/PID/status `Cpus_allowed_list`, and /proc/PID/cgroup
/// with ``CpusetLocation`` the cgroup cpuset (v1 or v2).
package struct ProcessPrivileges: Sendable {
    package var pid: Int32
    package var effectiveUID: UInt32
    package var sysNice: Bool
    package var ipcLock: Bool
    package var rtprio: ResourceLimit
    package var nice: ResourceLimit
    package var memlock: ResourceLimit
    /// `Cpus_allowed_list` of the main thread.
    package var allowedCPUs: CPUList?
    /// The cpuset cgroup's path (from /proc/PID/cgroup), and its effective CPUs if readable.
    package var cgroup: String?
    package var cgroupCPUs: CPUList?

    /// Reads process `pid`; nil if it does not exist (or its status is unreadable).
    ///
    /// The cpuset: the process's cgroup (`/proc/PID/cgroup`: the v1 `cpuset`
    /// controller's, else the v2 unified one) located under this reader's
    /// cgroup mounts (`/proc/self/mountinfo`), and the first non-empty CPU list
    /// from that directory up — as the engine finds its own (``CpusetLocation``).
    package init?(pid: Int32) {
        guard let status = ProcStatus.read(pid: pid) else { return nil }
        self.pid = pid
        // "Uid:  real  effective  saved  fs"
        effectiveUID = status["Uid"].flatMap { $0.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.flatMap { UInt32($0) } } ?? 0
        let capEff = status["CapEff"].flatMap { UInt64($0, radix: 16) } ?? 0
        sysNice = capEff & (1 << 23) != 0
        ipcLock = capEff & (1 << 14) != 0
        allowedCPUs = status["Cpus_allowed_list"].flatMap { try? CPUList(parsing: $0) }
        let limits = (try? KernelFile.contents(of: "/proc/\(pid)/limits")) ?? ""
        func limit(_ prefix: String) -> ResourceLimit {
            for line in limits.split(separator: "\n") where line.hasPrefix(prefix) {
                let values = line.dropFirst(prefix.count).split(separator: " ", omittingEmptySubsequences: true)
                func value(_ t: Substring?) -> ResourceLimitValue {
                    guard let t, let n = UInt64(t) else { return .unlimited }
                    return .limited(n)
                }
                return ResourceLimit(soft: value(values.first), hard: value(values.dropFirst().first))
            }
            return ResourceLimit(soft: .limited(0), hard: .limited(0))
        }
        rtprio = limit("Max realtime priority")
        nice = limit("Max nice priority")
        memlock = limit("Max locked memory")
        if let cgroupText = try? KernelFile.contents(of: "/proc/\(pid)/cgroup"),
           let mountInfo = try? KernelFile.contents(of: "/proc/self/mountinfo"),
           let location = CpusetLocation(cgroup: cgroupText, mountInfo: mountInfo) {
            cgroup = location.cgroupPath
            cgroupCPUs = location.read()?.cpus
        }
    }

    /// `base` with this process's uid, capabilities and limits.
    package func report(basedOn base: PrivilegeReport) -> PrivilegeReport {
        var r = base
        r.effectiveUID = effectiveUID
        r.sysNice = CapabilityState(effective: sysNice, permitted: sysNice)
        r.ipcLock = CapabilityState(effective: ipcLock, permitted: ipcLock)
        r.rtprio = rtprio
        r.nice = nice
        r.memlock = memlock
        return r
    }
}
