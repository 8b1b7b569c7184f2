import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

/// Another process's /proc files, through the Linux layer.
enum ProcFiles {
    /// `/proc/PID/comm` without the newline.
    static func command(pid: Int32) -> String? {
        (try? KernelFile.contents(of: "/proc/\(pid)/comm")).map { String($0.split(separator: "\n").first ?? "") }
    }

    /// Whether `tid` is a thread of process `pid` now.
    static func isThread(_ tid: Int32, of pid: Int32) -> Bool {
        tid > 0 && access("/proc/\(pid)/task/\(tid)", F_OK) == 0
    }

    /// The process (thread group) a thread id belongs to: `Tgid` of /proc/TID/status.
    static func threadGroup(of tid: Int32) -> Int32? {
        guard let status = try? KernelFile.contents(of: "/proc/\(tid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("Tgid:") {
            return Int32(line.dropFirst(5).filter { !$0.isWhitespace })
        }
        return nil
    }

    /// Thread ids of `pid` whose name is `name` (on-demand workers: `rtio-od`).
    static func threads(of pid: Int32, named name: String) -> [Int32] {
        guard !name.isEmpty, let dir = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(dir) }
        var tids: [Int32] = []
        while let entry = readdir(dir) {
            let entryName = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let tid = Int32(entryName),
                  let comm = try? KernelFile.contents(of: "/proc/\(pid)/task/\(tid)/comm"),
                  comm.split(separator: "\n").first.map(String.init) == name else { continue }
            tids.append(tid)
        }
        return tids.sorted()
    }
}
