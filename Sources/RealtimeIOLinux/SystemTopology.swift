import CRealtimeIOShims
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// SystemTopology — which CPUs exist, which are set aside for real-time work,
/// and which CPUs a thread may run on.
///
/// SYNOPSIS
///
///     let online   = try SystemTopology.onlineCPUs()      // e.g. 0-7
///     let isolated = try SystemTopology.isolatedCPUs()    // e.g. 2-3, or empty
///     try SystemTopology.setAllowedCPUs(CPUList(parsing: "3"), tid: tid)
///
/// DESCRIPTION
///
/// The CPU lists are read from sysfs on every call (CPUs can be hot-plugged);
/// nothing is cached. The affinity calls are `sched_getaffinity(2)` and
/// `sched_setaffinity(2)` on a kernel thread id; `tid` 0 means the calling thread.
///
/// ERRORS
///
/// All functions throw `SystemTopologyError`, whose `description` names the file or
/// call that failed and what to do; `errno` gives the underlying `Errno` if any.
package enum SystemTopology {
    /// The sysfs files read by this type.
    package enum Path {
        package static let online = "/sys/devices/system/cpu/online"
        package static let isolated = "/sys/devices/system/cpu/isolated"
        package static let nohzFull = "/sys/devices/system/cpu/nohz_full"
    }

    /// The CPUs currently online (`/sys/devices/system/cpu/online`). Never empty.
    package static func onlineCPUs() throws(SystemTopologyError) -> CPUList {
        try readList(Path.online, allowEmpty: false, absentMeansEmpty: false)
    }

    /// The CPUs removed from the scheduler's load balancing by the `isolcpus=`
    /// kernel parameter (`/sys/devices/system/cpu/isolated`); empty when none are.
    package static func isolatedCPUs() throws(SystemTopologyError) -> CPUList {
        try readList(Path.isolated, allowEmpty: true, absentMeansEmpty: false)
    }

    /// The adaptive-tick CPUs set by the `nohz_full=` kernel parameter
    /// (`/sys/devices/system/cpu/nohz_full`). Empty when none are configured or the
    /// kernel was built without `CONFIG_NO_HZ_FULL` (the file is then absent).
    package static func nohzFullCPUs() throws(SystemTopologyError) -> CPUList {
        // Kernels print "(null)" here when nohz_full is compiled in but unused.
        if let text = try file({ () throws(KernelFileError) in try KernelFile.contentsIfPresent(Path.nohzFull) }),
           text.rtioTrimmed() == "(null)" {
            return CPUList()
        }
        return try readList(Path.nohzFull, allowEmpty: true, absentMeansEmpty: true)
    }

    /// The CPUs thread `tid` may run on (`sched_getaffinity(2)`); 0 = calling thread.
    package static func allowedCPUs(tid: pid_t = 0) throws(SystemTopologyError) -> CPUList {
        var set = rtio_cpu_set()
        rtio_cpuset_zero(&set)
        let result = rtio_sched_getaffinity_tid(tid, &set)
        guard result == 0 else {
            throw .affinityFailed(operation: "sched_getaffinity", tid: tid, cpus: nil, Errno(rawValue: -result))
        }
        return CPUList(set)
    }

    /// Restricts thread `tid` (0 = calling thread) to `cpus` (`sched_setaffinity(2)`).
    ///
    /// Fails with `EINVAL` if none of `cpus` is online or permitted by the thread's
    /// cpuset cgroup, `ESRCH` if there is no such thread, and `EPERM` if the caller
    /// may not change another user's thread (needs `CAP_SYS_NICE`).
    package static func setAllowedCPUs(_ cpus: CPUList, tid: pid_t = 0) throws(SystemTopologyError) {
        guard !cpus.isEmpty else { throw .emptyAffinity(tid: tid) }
        var set = cpus.cpuSet
        let result = rtio_sched_setaffinity_tid(tid, &set)
        guard result == 0 else {
            throw .affinityFailed(operation: "sched_setaffinity", tid: tid, cpus: cpus, Errno(rawValue: -result))
        }
    }

    /// Runs a kernel-file read, reporting a failure as ``SystemTopologyError/unreadable(path:_:)``.
    private static func file<T>(_ read: () throws(KernelFileError) -> T) throws(SystemTopologyError) -> T {
        do { return try read() } catch { throw .unreadable(path: error.path, error.errno) }
    }

    private static func readList(
        _ path: String, allowEmpty: Bool, absentMeansEmpty: Bool
    ) throws(SystemTopologyError) -> CPUList {
        let text: String
        if absentMeansEmpty {
            guard let present = try file({ () throws(KernelFileError) in try KernelFile.contentsIfPresent(path) }) else {
                return CPUList()
            }
            text = present
        } else {
            text = try file { () throws(KernelFileError) in try KernelFile.contents(of: path) }
        }
        do {
            return try CPUList(parsing: text, allowEmpty: allowEmpty)
        } catch {
            throw .malformed(path: path, error)
        }
    }
}

/// Why a `SystemTopology` query failed.
package enum SystemTopologyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A kernel file could not be opened or read.
    case unreadable(path: String, Errno)
    /// A kernel file did not contain a CPU list.
    case malformed(path: String, CPUListError)
    /// `sched_getaffinity` / `sched_setaffinity` failed.
    case affinityFailed(operation: String, tid: pid_t, cpus: CPUList?, Errno)
    /// `setAllowedCPUs` was given an empty list.
    case emptyAffinity(tid: pid_t)

    /// The underlying error number, if the failure came from a system call.
    package var errno: Errno? {
        switch self {
        case .unreadable(_, let errno), .affinityFailed(_, _, _, let errno): errno
        case .malformed, .emptyAffinity: nil
        }
    }

    package var description: String {
        switch self {
        case .unreadable(let path, let errno):
            return "cannot read \(path): \(errno) (is /sys or /proc mounted? is this Linux?)"
        case .malformed(let path, let error):
            return "unexpected contents in \(path): \(error)"
        case .affinityFailed(let operation, let tid, let cpus, let errno):
            let target = tid == 0 ? "the calling thread" : "thread \(tid)"
            let list = cpus.map { " to CPUs '\($0)'" } ?? ""
            var text = "\(operation) on \(target)\(list) failed: \(errno)"
            switch errno {
            case .invalidArgument where cpus != nil:
                text += "; none of those CPUs is online and allowed by this process's cpuset"
                    + " (see /sys/devices/system/cpu/online and /proc/self/status Cpus_allowed_list)"
            case .noSuchProcess:
                text += "; no thread with that id exists (it may have exited)"
            case .notPermitted:
                text += "; changing another user's thread needs CAP_SYS_NICE"
            default:
                break
            }
            return text
        case .emptyAffinity(let tid):
            let target = tid == 0 ? "the calling thread" : "thread \(tid)"
            return "cannot restrict \(target) to an empty CPU list; pass at least one online CPU, e.g. 0-3"
        }
    }
}
