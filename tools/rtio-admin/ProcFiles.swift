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
}
