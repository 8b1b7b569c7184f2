import Foundation
@testable import RealtimeIOLinux
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Placement at birth through the C ABI and the POSIX AIO drop-in: C programs in
// Tests/CPrograms whose creating thread pins itself to CPU 0, and a child
// process moved into a narrower cpuset cgroup.

private func compileBirthMask() throws -> String? {
    guard cBuiltLibrary("librealtimeio.so") != nil else { return nil }
    let dir = cProductsDirectory()
    return try cCompile(
        ["\(cPackageRoot)/Tests/CPrograms/birth_mask.c"], name: "birth_mask",
        flags: ["-I\(cPackageRoot)/Sources/RealtimeIOC/include", "-L\(dir)", "-lrealtimeio", "-Wl,-rpath,\(dir)", "-lpthread"])
}

/// `WORKER <name> <cpus>` / `THREAD <name> <cpus>` lines of a program's output.
private func threadMasks(_ output: String, prefix: String) -> [(name: String, cpus: String)] {
    output.split(separator: "\n").compactMap { line in
        let f = line.split(separator: " ")
        guard f.count == 3, f[0] == prefix else { return nil }
        return (String(f[1]), String(f[2]))
    }
}

private let twoGroupsNoCPUs =
    #"{"groups":[{"name":"a","workers":2,"scheduling":{"other":0}},{"name":"b","workers":1}],"spinBudgetNanoseconds":0}"#

/// A cpuset cgroup with `cpus`, for a child process: v1 (a `cgroup` mount with
/// the cpuset controller) or v2 (`/sys/fs/cgroup` with cpuset in its controllers).
struct ChildCpuset {
    let directory: String
    /// The file ProcessCPUs must name.
    let effectiveFile: String

    init(cpus: String) throws {
        let name = "rtio-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let mountinfo = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        let v1Mount = mountinfo.split(separator: "\n").compactMap { line -> String? in
            let f = line.split(separator: " ")
            guard let dash = f.firstIndex(of: "-"), f.count > dash + 3, f[dash + 1] == "cgroup",
                  f[dash + 3].split(separator: ",").contains("cpuset"), f[3] == "/" else { return nil }
            return String(f[4])
        }.first
        let v2Controllers = (try? String(contentsOfFile: "/sys/fs/cgroup/cgroup.controllers", encoding: .utf8)) ?? ""
        if let v1Mount {
            directory = v1Mount + "/" + name
            effectiveFile = directory + "/cpuset.effective_cpus"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            let mems = try String(contentsOfFile: v1Mount + "/cpuset.mems", encoding: .utf8)
            try Self.write(directory + "/cpuset.cpus", cpus)
            try Self.write(directory + "/cpuset.mems", mems.trimmingCharacters(in: .whitespacesAndNewlines))
        } else if v2Controllers.split(whereSeparator: \.isWhitespace).contains("cpuset") {
            try Self.write("/sys/fs/cgroup/cgroup.subtree_control", "+cpuset")
            directory = "/sys/fs/cgroup/" + name
            effectiveFile = directory + "/cpuset.cpus.effective"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            try Self.write(directory + "/cpuset.cpus", cpus)
        } else {
            throw CpusetUnavailable(
                reason: "no cpuset controller: no v1 cpuset mount, and /sys/fs/cgroup/cgroup.controllers is '\(v2Controllers)'")
        }
    }

    struct CpusetUnavailable: Error, CustomStringConvertible { var reason: String; var description: String { reason } }

    static func write(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        let n = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        guard n >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    /// Runs `executable` in this cpuset (the shell moves itself in, then execs).
    func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> CProcessResult {
        let quoted = ([executable] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        return try cRun("/bin/sh", ["-c", "echo $$ > \(directory)/cgroup.procs && exec \(quoted.joined(separator: " "))"],
                        environment: environment)
    }

    /// Removes the cgroup once its processes have gone (the kernel frees it a moment after exit).
    func remove() {
        for _ in 0..<200 {
            if rmdir(directory) == 0 || errno == ENOENT { return }
            usleep(10_000)
        }
        Issue.record("cannot remove \(directory): \(String(cString: strerror(errno)))")
    }
}

@Suite("Placement at birth from C (C ABI, POSIX AIO drop-in, cpuset)", .serialized, .tags(.cPrograms))
struct PlacementAtBirthCTests {
    @Test("C ABI: main thread pinned to CPU 0, rtio_engine_create without CPUs: workers have the process's CPUs")
    func cABIPinnedCreator() throws {
        let expected = try unpinnedProcessCPUs()
        guard let exe = try compileBirthMask() else { return }
        defer { unlink(exe) }
        let r = try cRun(exe, ["--pin0", twoGroupsNoCPUs])
        #expect(!r.timedOut)
        #expect(r.status == 0, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        #expect(r.stdout.contains("CREATOR 0\n"), "\(r.stdout)")
        let workers = threadMasks(r.stdout, prefix: "WORKER")
        #expect(workers.map(\.name) == ["rtio-a-0", "rtio-a-1", "rtio-b-0"], "\(r.stdout)")
        for w in workers { #expect(w.cpus == "\(expected)", "\(w.name): \(w.cpus)") }
    }

    @Test("drop-in: the thread making the first aio_read is pinned to CPU 0: workers and notifier have the process's CPUs")
    func dropInPinnedFirstCaller() throws {
        let expected = try unpinnedProcessCPUs()
        guard let lib = cBuiltLibrary("librtio-aio.so"),
              let exe = try cCompile(["\(cPackageRoot)/Tests/CPrograms/aio_birth.c"], name: "aio_birth", flags: ["-lrt"])
        else { return }
        defer { unlink(exe) }
        let file = try TemporaryFile(size: 4096)
        let r = try cRun(exe, [file.path], environment: ["LD_PRELOAD": lib])
        #expect(!r.timedOut)
        #expect(r.status == 0, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        #expect(r.stdout.contains("CREATOR 0\n"), "\(r.stdout)")
        let threads = threadMasks(r.stdout, prefix: "THREAD")
        #expect(threads.contains { $0.name == "rtio-aio-notify" }, "\(r.stdout)")
        #expect(threads.filter { $0.name.hasPrefix("rtio-aio-") && $0.name != "rtio-aio-notify" }.count >= 2, "\(r.stdout)")
        for t in threads { #expect(t.cpus == "\(expected)", "\(t.name): \(t.cpus)") }
    }

    /// A real narrower cpuset: a child cgroup with cpuset.cpus = 1.
    @Test("in a cpuset of CPU 1: workers get CPU 1; CPU 0 is refused naming the cpuset file and the allowed list",
          .tags(.needsRoot))
    func narrowerCpuset() throws {
        let online = try SystemTopology.onlineCPUs()
        try #require(online.contains(0) && online.contains(1), "needs CPUs 0 and 1 (online: \(online))")
        guard let exe = try compileBirthMask() else { return }
        defer { unlink(exe) }
        let cpuset = try ChildCpuset(cpus: "1")
        defer { cpuset.remove() }
        let outside = #"{"groups":[{"name":"p","workers":1,"cpus":"0"}],"privilegePolicy":"required","spinBudgetNanoseconds":0}"#
        let r = try cpuset.run(exe, [twoGroupsNoCPUs, outside])
        #expect(!r.timedOut)
        #expect(r.status == 0, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        let workers = threadMasks(r.stdout, prefix: "WORKER")
        #expect(workers.count == 3, "\(r.stdout)")
        for w in workers { #expect(w.cpus == "1", "\(w.name): \(w.cpus)") }
        let error = r.stdout.split(separator: "\n").first { $0.hasPrefix("ERROR ") }.map(String.init) ?? ""
        #expect(error.hasPrefix("ERROR -\(EINVAL) "), "\(r.stdout)")
        #expect(error.contains("groups[0].cpus"), "\(error)")
        #expect(error.contains("outside this process's cpuset \(cpuset.effectiveFile)"), "\(error)")
        #expect(error.contains("allowed: 1"), "\(error)")
        #expect(!error.contains("setcap"), "\(error)")
    }

    /// `rtio-admin check --pid` of a process in a cpuset cgroup limited to CPU
    /// 1 names that cgroup and its CPUs — on cgroup v1 (this machine) as on v2:
    /// the process's own cgroup file located under the reader's mounts, not a
    /// path guessed under /sys/fs/cgroup.
    @Test("rtio-admin check --pid: the process's cpuset cgroup and its CPUs, v1 or v2", .tags(.needsRoot))
    func checkPidNamesTheCpuset() throws {
        let cpuset = try ChildCpuset(cpus: "1")
        defer { cpuset.remove() }
        let admin = builtProduct("rtio-admin")
        try requireExecutable(admin)
        // The shell moves itself in and becomes rtio-admin, which checks its own pid.
        let r = try cRun("/bin/sh", ["-c", "echo $$ > \(cpuset.directory)/cgroup.procs && exec '\(admin)' check --pid $$"])
        #expect(!r.timedOut)
        let name = (cpuset.directory as NSString).lastPathComponent
        #expect(r.stdout.contains("cgroup /\(name): CPUs 1;"), "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        #expect(r.stdout.contains("process allowed CPUs 1"), "\(r.stdout)")
    }
}
