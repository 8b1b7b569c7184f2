import Foundation
import Synchronization
import Testing

@testable import RealtimeIO
@testable import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

/// A fake cgroup hierarchy: a temporary directory standing for the mount point,
/// with cpuset files written where a test puts them.
private final class FakeHierarchy {
    let mountPoint: String

    init() throws {
        mountPoint = NSTemporaryDirectory() + "rtio-cg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
    }

    func write(_ relative: String, _ text: String) throws {
        let path = mountPoint + relative
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// A mountinfo line for this directory (spaces escaped as the kernel does).
    func mountLine(type: String, root: String = "/", options: String) -> String {
        let escaped = mountPoint.replacingOccurrences(of: " ", with: "\\040")
        return "41 31 0:38 \(root) \(escaped) rw,relatime shared:9 - \(type) cgroup rw,\(options)"
    }

    deinit { try? FileManager.default.removeItem(atPath: mountPoint) }
}

@Suite("System: process CPUs (cpuset ∩ online)")
struct SystemProcessCPUsTests {
    /// The real files of this machine: the set is the cpuset file's list ∩ online,
    /// contains every thread's mask, and does not depend on the caller's mask.
    @Test("the real cpuset: a pinned thread reads the process's set, which holds every thread's mask")
    func realFiles() throws {
        let online = try SystemTopology.onlineCPUs()
        try #require(online.count >= 2, "needs two online CPUs (online: \(online))")
        let cpus = try ProcessCPUs.current()
        #expect(cpus.online == online)
        // Where the cpuset must come from on this machine, decided from the files directly.
        let cgroup = try String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)
        let v1 = cgroup.split(separator: "\n").contains { $0.split(separator: ":")[safe: 1]?.split(separator: ",").contains("cpuset") == true }
        if v1 {
            let file = try #require(cpus.cpusetFile, "a v1 cpuset is bound (\(cgroup)) but none was read")
            #expect(file.hasSuffix("/cpuset.effective_cpus") || file.hasSuffix("/cpuset.cpus"), "\(file)")
        }
        if let file = cpus.cpusetFile {
            let listed = try CPUList(parsing: try String(contentsOfFile: file, encoding: .utf8))
            #expect(cpus.cpuset == listed)
            #expect(cpus.allowed == listed.intersection(online))
        } else {
            #expect(cpus.allowed == online)
        }
        // The kernel keeps every thread's mask inside the cpuset.
        for task in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") {
            guard let status = ProcStatus.read("/proc/self/task/\(task)/status"),
                  let text = status["Cpus_allowed_list"] else { continue }  // exited meanwhile
            #expect(try CPUList(parsing: text).isSubset(of: cpus.allowed), "task \(task): \(text) ⊄ \(cpus.allowed)")
        }
        // A thread pinned to CPU 0 reads the same set: its own mask is not the process's.
        let seen = Mutex<ProcessCPUs?>(nil)
        let pinned = try NativeThread.spawn(attributes: ThreadAttributes(cpus: [0], name: "pinned-reader")) {
            seen.withLock { $0 = try? ProcessCPUs.current() }
        }
        pinned.join()
        let fromPinned = try #require(seen.withLock { $0 })
        #expect(fromPinned == cpus)
        #expect(fromPinned.allowed != (try CPUList(parsing: "0")))
    }

    @Test("cgroup v1: the cpuset line's path under the cpuset mount, cpuset.effective_cpus")
    func version1() throws {
        let h = try FakeHierarchy()
        try h.write("/cpuset.effective_cpus", "0-7\n")
        try h.write("/rt/app/cpuset.effective_cpus", "2-3\n")
        try h.write("/rt/app/cpuset.cpus", "2-5\n")
        let cgroup = "9:name=systemd:/\n3:cpuset:/rt/app\n1:cpu,cpuacct:/\n0::/\n"
        let mounts = [
            "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
            h.mountLine(type: "cgroup", options: "cpuset"),
            "41 31 0:38 / /nonexistent-unified rw,relatime - cgroup2 cgroup2 rw",
        ].joined(separator: "\n")
        let location = try #require(CpusetLocation(cgroup: cgroup, mountInfo: mounts))
        #expect(location.directory == h.mountPoint + "/rt/app")
        let found = try #require(location.read())
        #expect(found.file == h.mountPoint + "/rt/app/cpuset.effective_cpus")
        #expect(found.cpus == (try CPUList(parsing: "2-3")))
    }

    @Test("cgroup v2: cpuset.cpus.effective, walking up while the file is absent")
    func version2WalksUp() throws {
        let h = try FakeHierarchy()
        try h.write("/cpuset.cpus.effective", "0-7\n")
        try h.write("/system.slice/cpuset.cpus.effective", "1,3\n")
        try FileManager.default.createDirectory(
            atPath: h.mountPoint + "/system.slice/app.service/leaf", withIntermediateDirectories: true)
        let cgroup = "0::/system.slice/app.service/leaf\n"
        let mounts = h.mountLine(type: "cgroup2", options: "nsdelegate")
        let location = try #require(CpusetLocation(cgroup: cgroup, mountInfo: mounts))
        let found = try #require(location.read())
        #expect(found.file == h.mountPoint + "/system.slice/cpuset.cpus.effective")
        #expect(found.cpus == (try CPUList(parsing: "1,3")))
        // No file anywhere up to the mount point: nothing (the root's absence means no cpuset).
        try FileManager.default.removeItem(atPath: h.mountPoint + "/system.slice/cpuset.cpus.effective")
        try FileManager.default.removeItem(atPath: h.mountPoint + "/cpuset.cpus.effective")
        #expect(location.read() == nil)
    }

    @Test("a mount of a subtree (container without a cgroup namespace); escaped mount points")
    func subtreeMount() throws {
        let h = try FakeHierarchy()
        try h.write("/cpuset.cpus.effective", "4-5\n")
        let cgroup = "0::/docker/abc\n"
        // The container sees /docker/abc mounted as the hierarchy's root.
        let mounts = h.mountLine(type: "cgroup2", root: "/docker/abc", options: "")
        let location = try #require(CpusetLocation(cgroup: cgroup, mountInfo: mounts))
        #expect(location.directory == h.mountPoint)
        #expect(location.read()?.cpus == (try CPUList(parsing: "4-5")))
        let unescaped = try #require(CpusetLocation(
            cgroup: "0::/a\n", mountInfo: "41 31 0:38 / /x\\040y rw - cgroup2 cgroup2 rw"))
        #expect(unescaped.directory == "/x y/a")
    }

    @Test("no cpuset hierarchy: the online CPUs; isolated CPUs are left out of the unpinned mask")
    func fallbackAndIsolation() throws {
        #expect(CpusetLocation(cgroup: "4:memory:/x\n", mountInfo: "") == nil)
        let online = try CPUList(parsing: "0-3")
        let none = ProcessCPUs(online: online)
        #expect(none.allowed == online && none.cpusetFile == nil && none.unpinned == online)
        let set = ProcessCPUs(
            online: online, cpuset: try CPUList(parsing: "1-5"), cpusetFile: "/c/cpuset.cpus.effective",
            isolated: try CPUList(parsing: "3"))
        #expect(set.allowed == (try CPUList(parsing: "1-3")))
        #expect(set.unpinned == (try CPUList(parsing: "1-2")))
        #expect(set.source.contains("/c/cpuset.cpus.effective"))
        // Every allowed CPU isolated: the unpinned mask is the allowed set rather than nothing.
        let allIsolated = ProcessCPUs(online: online, cpuset: try CPUList(parsing: "3"), cpusetFile: "/c", isolated: try CPUList(parsing: "2-3"))
        #expect(allIsolated.unpinned == (try CPUList(parsing: "3")))
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
