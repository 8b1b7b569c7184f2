import RealtimeIO
import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

/// Finding status files: every engine on this host, stale-file removal, and the
/// live engines of one process (what `rtio-admin list`, `show` and the
/// `set-…` commands start from).
extension StatusFile {
    /// Every status file in ``searchDirectories``, sorted by pid then engine name.
    ///
    /// Unreadable or malformed files are listed as stale only when the pid in their
    /// name is not running (a file being created right now is skipped, not flagged).
    package static func list() -> [StatusFileSummary] {
        var summaries: [StatusFileSummary] = []
        for directory in searchDirectories {
            guard let dir = opendir(directory) else { continue }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                guard name.hasSuffix(".status") else { continue }
                let path = directory + "/" + name
                if let summary = StatusFileSummary(path: path) { summaries.append(summary) }
            }
        }
        return summaries.sorted { ($0.pid, $0.engineName) < ($1.pid, $1.engineName) }
    }

    /// Deletes every stale file ``list()`` finds; returns the removed paths.
    @discardableResult
    package static func removeStale() -> [String] {
        list().filter(\.stale).compactMap { Glibc.unlink($0.path) == 0 ? $0.path : nil }
    }

    /// Maps every live engine of process `pid`, read-only.
    ///
    /// - Throws: ``StatusFileError/noEngine(pid:_:)`` if `pid` publishes no live engine
    ///   (not running, no status file, or only stale ones).
    package static func open(pid: Int32) throws(StatusFileError) -> [StatusFileReader] {
        let mine = list().filter { $0.pid == pid }
        let live = mine.filter { !$0.stale }
        guard !live.isEmpty else {
            if let stale = mine.first {
                throw .noEngine(pid: pid, "only a stale status file (\(stale.staleReason ?? "stale")): \(stale.path)")
            }
            let running = access("/proc/\(pid)", F_OK) == 0
            throw .noEngine(pid: pid, running ? "the process publishes no status file in \(searchDirectories.joined(separator: " or "))" : "no such process")
        }
        var readers: [StatusFileReader] = []
        for summary in live { readers.append(try StatusFileReader(path: summary.path)) }
        return readers
    }
}
