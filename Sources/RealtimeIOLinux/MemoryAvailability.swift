/// How much memory this process can still commit: the kernel's estimate of
/// what can be allocated without swapping (`MemAvailable` in `/proc/meminfo`)
/// and, when the process's memory cgroup has a limit, what is left under it.
///
/// A snapshot: it does not follow later allocations of this or other processes.
package struct MemoryAvailability: Equatable, Sendable {
    /// `MemAvailable` from `/proc/meminfo`, in bytes; nil if unreadable.
    package var memAvailable: Int?
    /// The memory cgroup's limit minus its usage, in bytes; nil when it has no
    /// limit (or none could be read).
    package var cgroupRemaining: Int?
    /// The cgroup file the limit came from, for messages.
    package var cgroupLimitPath: String?

    package init(memAvailable: Int?, cgroupRemaining: Int? = nil, cgroupLimitPath: String? = nil) {
        self.memAvailable = memAvailable
        self.cgroupRemaining = cgroupRemaining
        self.cgroupLimitPath = cgroupLimitPath
    }

    /// The lower of the two, and what it is; nil if neither is known.
    package var limit: (bytes: Int, source: String)? {
        switch (memAvailable, cgroupRemaining) {
        case (nil, nil): return nil
        case (let m?, nil): return (m, "MemAvailable in /proc/meminfo")
        case (nil, let c?): return (c, "the memory cgroup's remaining limit (\(cgroupLimitPath ?? "?"))")
        case (let m?, let c?):
            return c < m ? (c, "the memory cgroup's remaining limit (\(cgroupLimitPath ?? "?"))") : (m, "MemAvailable in /proc/meminfo")
        }
    }

    /// Reads `/proc/meminfo` and the process's memory cgroup (v2 `memory.max` /
    /// `memory.current`, else v1 `memory.limit_in_bytes` / `memory.usage_in_bytes`).
    package static func current() -> MemoryAvailability {
        var result = MemoryAvailability(memAvailable: memAvailable(meminfo: try? KernelFile.contents(of: "/proc/meminfo")))
        if let (remaining, path) = cgroupRemaining() {
            result.cgroupRemaining = remaining
            result.cgroupLimitPath = path
        }
        return result
    }

    /// `MemAvailable:  123 kB` → bytes.
    package static func memAvailable(meminfo: String?) -> Int? {
        guard let meminfo else { return nil }
        for line in meminfo.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kib = Int(fields[1]) else { return nil }
            return kib.multipliedReportingOverflow(by: 1024).overflow ? Int.max : kib * 1024
        }
        return nil
    }

    /// A cgroup limit at or above this is "no limit" (v1 reports a page-rounded `LONG_MAX`).
    static let unlimitedThreshold = 1 << 62

    private static func cgroupRemaining() -> (Int, String)? {
        let cgroups = (try? KernelFile.contents(of: "/proc/self/cgroup")) ?? ""
        var candidates: [(limit: String, usage: String)] = []
        for line in cgroups.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let path = parts[2] == "/" ? "" : String(parts[2])
            if parts[0] == "0" && parts[1].isEmpty {
                for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
                    candidates.append(("\(root)\(path)/memory.max", "\(root)\(path)/memory.current"))
                }
            } else if parts[1].split(separator: ",").contains("memory") {
                candidates.append(("/sys/fs/cgroup/memory\(path)/memory.limit_in_bytes", "/sys/fs/cgroup/memory\(path)/memory.usage_in_bytes"))
            }
        }
        // In a container the cgroup mount is the container's own cgroup, whatever /proc/self/cgroup says.
        candidates.append(("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"))
        candidates.append(("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"))
        for (limitPath, usagePath) in candidates {
            guard let text = KernelFile.firstLine(limitPath) else { continue }
            guard let limit = Int(text), limit < unlimitedThreshold else { return nil }  // "max" or huge: no limit
            let usage = KernelFile.integer(usagePath) ?? 0
            return (max(0, limit - usage), limitPath)
        }
        return nil
    }
}
