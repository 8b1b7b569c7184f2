import RealtimeIO
import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

/// Finding status files: every engine on this host whatever runtime directory
/// its process used, stale-file removal, and the live engines of one process
/// (what `rtio-admin list`, `show`, `top`, `metrics` and the `set-…` commands
/// start from).
///
/// ## Discovery
/// Two sources, merged by path:
/// 1. **The processes' own mappings.** A running engine keeps its status file
///    mapped (`MAP_SHARED`) for its whole life, so the file's path is a line of
///    `/proc/PID/maps` — whatever `$XDG_RUNTIME_DIR` that process had. Root reads
///    every process's maps; a user reads their own processes' (the kernel's
///    ptrace read check); a process whose maps cannot be read belongs to someone
///    else and is skipped silently.
/// 2. **The status directories**, for stale files (a dead engine maps nothing):
///    this process's ``StatusFile/searchDirectories``, `/run/user/UID/rtio` of the
///    caller and, as root, of every user.
///
/// A status file or directory that exists but cannot be read is a
/// ``DiscoveryProblem`` (reported by the tool with exit status 77), never a
/// silently empty list.
extension StatusFile {
    /// What discovery found: summaries sorted by pid then engine name, and the
    /// files or directories it could not read.
    package struct Discovery: Sendable {
        /// Every status file found (live and stale).
        package var summaries: [StatusFileSummary]
        /// Paths that exist but could not be read.
        package var problems: [DiscoveryProblem]
    }

    /// Scans mappings and directories (see the extension's description).
    /// With `only`, reads that process's mappings alone and its files
    /// (`PID-NAME.status`) in the directories: a refreshing view of one
    /// process does not read every `/proc/*/maps` each time.
    package static func discover(only: pid_t? = nil) -> Discovery {
        var paths: [String] = []
        var seen = Set<String>()
        var problems: [DiscoveryProblem] = []
        func add(_ path: String) { if seen.insert(path).inserted { paths.append(path) } }

        for pid in only.map({ [$0] }) ?? processIDs() {
            for path in mappedStatusFiles(pid: pid) { add(path) }
        }
        for directory in statusDirectories() {
            guard let dir = opendir(directory) else {
                if errno == EACCES || errno == EPERM {
                    problems.append(DiscoveryProblem(
                        path: directory, reason: "permission denied (directory owned by \(owner(directory))); engines there are hidden — run as that user or as root",
                        isPermission: true))
                }
                continue
            }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name.hasSuffix(".status"), only.map({ name.hasPrefix("\($0)-") }) ?? true { add(directory + "/" + name) }
            }
        }
        var summaries: [StatusFileSummary] = []
        for path in paths {
            if access(path, R_OK) != 0 && (errno == EACCES || errno == EPERM) {
                problems.append(DiscoveryProblem(
                    path: path, reason: "permission denied (file owned by \(owner(path))); run as that user or as root",
                    isPermission: true))
                continue
            }
            if let summary = StatusFileSummary(path: path) { summaries.append(summary) }
        }
        summaries.sort { ($0.pid, $0.engineName, $0.path) < ($1.pid, $1.engineName, $1.path) }
        return Discovery(summaries: summaries, problems: problems)
    }

    /// Every status file ``discover()`` can read, sorted by pid then engine name.
    package static func list() -> [StatusFileSummary] { discover().summaries }

    /// Deletes every stale file ``list()`` finds; returns the removed paths.
    @discardableResult
    package static func removeStale() -> [String] {
        list().filter(\.stale).compactMap { Glibc.unlink($0.path) == 0 ? $0.path : nil }
    }

    /// Maps every live engine of process `pid`, read-only.
    ///
    /// - Throws: ``DiscoveryError``: no such process, no engine in it (none, or
    ///   only stale files), permission denied, or a malformed file.
    package static func open(pid: Int32) throws(DiscoveryError) -> [StatusFileReader] {
        let found = discover()
        let mine = found.summaries.filter { $0.pid == pid }
        let live = mine.filter { !$0.stale }
        guard !live.isEmpty else {
            if let denied = found.problems.first(where: { $0.isPermission && $0.path.contains("/\(pid)-") }) {
                throw .permission(denied.description)
            }
            if let stale = mine.first {
                throw .noEngine(pid: pid, "only a stale status file (\(stale.staleReason ?? "stale")): \(stale.path)")
            }
            guard access("/proc/\(pid)", F_OK) == 0 else { throw .noSuchProcess(pid: pid) }
            if !canReadMaps(pid: pid) {
                throw .permission("cannot read /proc/\(pid)/maps: permission denied (pid \(pid) belongs to uid \(owner("/proc/\(pid)"))); run as that user or as root")
            }
            if let denied = found.problems.first(where: \.isPermission) {
                throw .noEngine(pid: pid, "it maps no status file, and \(denied.description)")
            }
            throw .noEngine(pid: pid, "it maps no status file (not a RealtimeIO engine, or one that could not publish its status: see its degradations)")
        }
        var readers: [StatusFileReader] = []
        for summary in live {
            do {
                readers.append(try StatusFileReader(path: summary.path))
            } catch {
                // Gone, or re-created and not written yet, since discovery: an engine of the
                // process stopping or starting right now — not a malformed file. Skip it.
                if StatusFileSummary(path: summary.path).map({ $0.startTime != summary.startTime || $0.stale }) ?? true { continue }
                throw .malformed(error.description)
            }
        }
        guard !readers.isEmpty else { throw .noEngine(pid: pid, "its engines stopped while being read") }
        return readers
    }

    // MARK: - Sources

    /// Numeric entries of /proc.
    static func processIDs() -> [Int32] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var pids: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let pid = Int32(name), pid > 0 { pids.append(pid) }
        }
        return pids
    }

    /// Status files process `pid` maps: `…/rtio/PID-NAME.status` lines of
    /// /proc/PID/maps (a deleted file, " (deleted)", is not listed: its engine is shutting down).
    static func mappedStatusFiles(pid: Int32) -> [String] {
        guard let maps = try? KernelFile.contents(of: "/proc/\(pid)/maps") else { return [] }
        var paths: [String] = []
        for line in maps.split(separator: "\n") where line.hasSuffix(".status") {
            guard let slash = line.firstIndex(of: "/") else { continue }
            let path = String(line[slash...])
            guard path.contains("/rtio/\(pid)-"), !paths.contains(path) else { continue }
            paths.append(path)
        }
        return paths
    }

    /// The directories scanned for stale files.
    static func statusDirectories() -> [String] {
        var directories = searchDirectories
        var candidates = ["/run/user/\(getuid())/rtio"]
        if geteuid() == 0, let dir = opendir("/run/user") {
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if UInt32(name) != nil { candidates.append("/run/user/\(name)/rtio") }
            }
        }
        for c in candidates where !directories.contains(c) { directories.append(c) }
        return directories
    }

    static func canReadMaps(pid: Int32) -> Bool {
        let fd = Glibc.open("/proc/\(pid)/maps", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        Glibc.close(fd)
        return true
    }

    /// `uid N (name)` of a path's owner, for messages.
    static func owner(_ path: String) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { return "an unknown user" }
        if let pw = getpwuid(st.st_uid), let name = pw.pointee.pw_name {
            return "uid \(st.st_uid) (\(String(cString: name)))"
        }
        return "uid \(st.st_uid)"
    }
}

/// A status file or directory that exists but could not be read.
package struct DiscoveryProblem: Sendable, Hashable, CustomStringConvertible {
    /// The file or directory.
    package var path: String
    /// Why it could not be read.
    package var reason: String
    /// Whether the reason is a permission (EACCES/EPERM).
    package var isPermission: Bool

    /// `cannot read PATH: REASON`.
    package var description: String { "cannot read \(path): \(reason)" }
}

/// Why the engines of one process could not be opened.
package enum DiscoveryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No process with this pid.
    case noSuchProcess(pid: Int32)
    /// The process runs but publishes no live engine.
    case noEngine(pid: Int32, String)
    /// Its status file or /proc entries are not readable by this user.
    case permission(String)
    /// Its status file is not a readable status file of this format.
    case malformed(String)

    /// One line naming the pid or path and the problem.
    package var description: String {
        switch self {
        case .noSuchProcess(let pid): return "no process \(pid) (see rtio-admin list)"
        case .noEngine(let pid, let why): return "no running RealtimeIO engine in pid \(pid): \(why)"
        case .permission(let why): return why
        case .malformed(let why): return why
        }
    }
}
