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
/// RLIMIT_MEMLOCK; /proc/PID/status `Cpus_allowed_list` and /proc/PID/cpuset
/// the cgroup cpuset.
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
    /// The cgroup path of /proc/PID/cpuset, and that cgroup's effective CPUs if readable.
    package var cgroup: String?
    package var cgroupCPUs: CPUList?

    /// Reads process `pid`; nil if it does not exist (or its status is unreadable).
    package init?(pid: Int32) {
        guard let status = try? KernelFile.contents(of: "/proc/\(pid)/status") else { return nil }
        func field(_ name: String) -> String? {
            for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
                return line.dropFirst(name.count + 1).rtioTrimmed(" \t")
            }
            return nil
        }
        self.pid = pid
        effectiveUID = field("Uid").flatMap { $0.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.flatMap { UInt32($0) } } ?? 0
        let capEff = field("CapEff").flatMap { UInt64($0, radix: 16) } ?? 0
        sysNice = capEff & (1 << 23) != 0
        ipcLock = capEff & (1 << 14) != 0
        allowedCPUs = field("Cpus_allowed_list").flatMap { try? CPUList(parsing: $0) }
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
        let cpuset = (try? KernelFile.contents(of: "/proc/\(pid)/cpuset"))?.rtioTrimmed("\n ")
        cgroup = cpuset
        if let cpuset {
            let path = "/sys/fs/cgroup" + (cpuset == "/" ? "" : cpuset) + "/cpuset.cpus.effective"
            cgroupCPUs = (try? KernelFile.contents(of: path)).flatMap { try? CPUList(parsing: $0, allowEmpty: true) }
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

extension StringProtocol {
    /// Drops the given characters from both ends.
    func rtioTrimmed(_ set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
