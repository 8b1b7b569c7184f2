/// ProcessCPUs — the CPUs this process may use, and the mask a thread with no
/// CPUs configured is born with.
///
/// SYNOPSIS
///
///     let cpus = try ProcessCPUs.current()
///     cpus.allowed       // e.g. 0-7: what a configured CPU list must stay within
///     cpus.unpinned      // e.g. 0-5: the birth mask of a thread without CPUs
///     cpus.cpusetFile    // e.g. "/sys/fs/cgroup/rt.slice/cpuset.cpus.effective", or nil
///
/// DESCRIPTION
///
/// ``allowed`` is the process's cpuset cgroup's effective CPUs intersected with
/// the online CPUs; when no cpuset file can be read, the online CPUs. It is a
/// property of the process, never of a thread: `sched_getaffinity` of the
/// calling thread (or of the main thread) is not it, since any thread,
/// the main thread included, may have been pinned narrower by its host.
///
/// The cpuset is found the way the kernel files describe it:
///
/// - cgroup v1 (a `cgroup` mount with the `cpuset` option, as on hybrid
///   hosts): the `cpuset` line of `/proc/self/cgroup` gives the cgroup's path,
///   the mount in `/proc/self/mountinfo` its directory; the file is
///   `cpuset.effective_cpus` (`cpuset.cpus` on kernels without it).
/// - cgroup v2 (a `cgroup2` mount, as on a plain Debian host at
///   `/sys/fs/cgroup`): the `0::` line gives the path; the file is
///   `cpuset.cpus.effective`. It is absent in a cgroup whose parent does not
///   enable the cpuset controller, which then has its nearest ancestor's CPUs:
///   the lookup walks up to the mount's root.
///
/// A mount whose root is a subtree (a container without a cgroup namespace)
/// is handled by stripping the mount's root from the cgroup's path.
///
/// ``unpinned`` is ``allowed`` without the CPUs isolated by `isolcpus=`
/// (`/sys/devices/system/cpu/isolated`), unless that leaves nothing: the
/// kernel starts `init` (and so every process) outside the isolated CPUs, and
/// a thread nobody placed must not land on a CPU set aside for real-time
/// work. A configured CPU list may name isolated CPUs; that is what they are for.
///
/// Every call reads the files again (cpusets and online CPUs change at run time).
package struct ProcessCPUs: Hashable, Sendable, CustomStringConvertible {
    /// The process's cpuset ∩ online CPUs (the online CPUs when no cpuset is
    /// readable). Never empty.
    package var allowed: CPUList
    /// The birth mask of a thread with no CPUs configured: ``allowed`` minus
    /// the isolated CPUs, or ``allowed`` if that is empty. Never empty.
    package var unpinned: CPUList
    /// The cpuset file ``allowed`` comes from; nil when none was readable.
    package var cpusetFile: String?
    /// The CPUs listed in ``cpusetFile`` (before the intersection with online CPUs).
    package var cpuset: CPUList?
    /// The online CPUs at the time of the read.
    package var online: CPUList

    /// The files read by ``current()``.
    package enum Path {
        package static let cgroup = "/proc/self/cgroup"
        package static let mountInfo = "/proc/self/mountinfo"
    }

    /// A set assembled from its parts (tests inject one into validation).
    package init(online: CPUList, cpuset: CPUList? = nil, cpusetFile: String? = nil, isolated: CPUList = CPUList()) {
        self.online = online
        self.cpuset = cpuset
        self.cpusetFile = cpuset == nil ? nil : cpusetFile
        var allowed = cpuset.map { $0.intersection(online) } ?? online
        if allowed.isEmpty { allowed = online }  // a cpuset of offline CPUs only: the kernel uses online ones
        self.allowed = allowed
        let unisolated = allowed.subtracting(isolated)
        self.unpinned = unisolated.isEmpty ? allowed : unisolated
    }

    /// Reads this process's CPUs now. Throws only when the online CPUs cannot
    /// be read; an unreadable cpuset falls back to the online CPUs.
    package static func current() throws(SystemTopologyError) -> ProcessCPUs {
        let online = try SystemTopology.onlineCPUs()
        let isolated = (try? SystemTopology.isolatedCPUs()) ?? CPUList()
        let cgroup = (try? KernelFile.contents(of: Path.cgroup)) ?? ""
        let mountInfo = (try? KernelFile.contents(of: Path.mountInfo)) ?? ""
        let found = CpusetLocation(cgroup: cgroup, mountInfo: mountInfo)?.read()
        return ProcessCPUs(online: online, cpuset: found?.cpus, cpusetFile: found?.file, isolated: isolated)
    }

    /// The birth mask for threads without CPUs, read now; nil only when not even
    /// the online CPUs can be read (the thread then inherits its creator's mask).
    package static func currentUnpinned() -> [Int]? {
        (try? current())?.unpinned.cpus
    }

    /// Where ``allowed`` comes from, for error messages: "cpuset <file> (…) ∩ online …".
    package var source: String {
        if let cpusetFile, let cpuset {
            return "cpuset \(cpusetFile) (\(cpuset)) ∩ online CPUs (\(online))"
        }
        return "online CPUs (\(online)); no cpuset readable"
    }

    package var description: String { "\(allowed) (\(source))" }
}

/// Where this process's cpuset file lives: its cgroup's directory and the
/// mount it belongs to, from `/proc/self/cgroup` and `/proc/self/mountinfo`.
package struct CpusetLocation: Hashable, Sendable {
    /// The cgroup's directory (absolute).
    package var directory: String
    /// The hierarchy's mount point: the walk up stops there.
    package var mountPoint: String
    /// The file names to try in each directory, in order.
    package var fileNames: [String]
    /// The cgroup's path as `/proc/PID/cgroup` lists it (within the hierarchy).
    package var cgroupPath: String = ""

    /// Finds the cpuset hierarchy: the v1 `cpuset` controller if one is bound,
    /// else the v2 unified hierarchy. nil when neither is listed and mounted.
    package init?(cgroup: String, mountInfo: String) {
        var v1Path: String? = nil
        var v2Path: String? = nil
        for line in cgroup.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if parts[1].split(separator: ",").contains("cpuset") {
                v1Path = String(parts[2])
            } else if parts[0] == "0" && parts[1].isEmpty {
                v2Path = String(parts[2])
            }
        }
        let mounts = mountInfo.split(separator: "\n").compactMap(Mount.init)
        if let path = v1Path,
           let found = Self.locate(path, in: mounts.filter { $0.type == "cgroup" && $0.options.contains("cpuset") }) {
            self.init(directory: found.directory, mountPoint: found.mountPoint, fileNames: ["cpuset.effective_cpus", "cpuset.cpus"])
            cgroupPath = path
        } else if let path = v2Path, let found = Self.locate(path, in: mounts.filter { $0.type == "cgroup2" }) {
            self.init(directory: found.directory, mountPoint: found.mountPoint, fileNames: ["cpuset.cpus.effective"])
            cgroupPath = path
        } else {
            return nil
        }
    }

    package init(directory: String, mountPoint: String, fileNames: [String]) {
        self.directory = directory
        self.mountPoint = mountPoint
        self.fileNames = fileNames
    }

    /// The first readable, non-empty CPU list from ``directory`` up to ``mountPoint``.
    package func read() -> (file: String, cpus: CPUList)? {
        var directory = self.directory
        while true {
            for name in fileNames {
                let file = (directory.hasSuffix("/") ? directory : directory + "/") + name
                if let text = try? KernelFile.contentsIfPresent(file),
                   let cpus = try? CPUList(parsing: text, allowEmpty: true), !cpus.isEmpty {
                    return (file, cpus)
                }
            }
            guard directory != mountPoint, directory.count > mountPoint.count,
                  let slash = directory.lastIndex(of: "/") else { return nil }
            directory = slash == directory.startIndex ? "/" : String(directory[..<slash])
        }
    }

    /// One `/proc/self/mountinfo` line: root within the hierarchy, mount point,
    /// file system type and super options.
    private struct Mount {
        var root: String
        var mountPoint: String
        var type: String
        var options: [Substring]

        /// nil for lines that are not cgroup mounts.
        init?(_ line: Substring) {
            let fields = line.split(separator: " ")
            guard let separator = fields.firstIndex(of: "-"), separator >= 6, fields.count > separator + 3,
                  fields[separator + 1] == "cgroup" || fields[separator + 1] == "cgroup2" else { return nil }
            root = Self.unescape(fields[3])
            mountPoint = Self.unescape(fields[4])
            type = String(fields[separator + 1])
            options = fields[separator + 3].split(separator: ",")
        }

        /// mountinfo escapes space, tab, newline and backslash as `\ooo`.
        static func unescape(_ field: Substring) -> String {
            guard field.utf8.contains(UInt8(ascii: "\\")) else { return String(field) }
            var bytes: [UInt8] = []
            var utf8 = Array(field.utf8)[...]
            while let byte = utf8.popFirst() {
                if byte == UInt8(ascii: "\\"), utf8.count >= 3,
                   let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                    bytes.append(value)
                    utf8 = utf8.dropFirst(3)
                } else {
                    bytes.append(byte)
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// The directory of cgroup `path` in the mount whose root is its longest prefix.
    private static func locate(_ path: String, in mounts: [Mount]) -> (directory: String, mountPoint: String)? {
        func contains(_ root: String) -> Bool {
            root == "/" || path == root || path.hasPrefix(root + "/")
        }
        guard let mount = mounts.filter({ contains($0.root) }).max(by: { $0.root.count < $1.root.count }) else {
            return nil
        }
        let relative = mount.root == "/" ? path : String(path.dropFirst(mount.root.count))
        let trimmed = relative.hasSuffix("/") ? String(relative.dropLast()) : relative
        let base = mount.mountPoint.hasSuffix("/") && mount.mountPoint != "/" ? String(mount.mountPoint.dropLast()) : mount.mountPoint
        return (base + trimmed, base)
    }
}
