#if canImport(Glibc)
import Glibc
#endif

import RealtimeIOLinux

/// The start time of a process, to tell it from a later process with the same pid.
enum ProcessStartTime {
    /// Field 22 of `/proc/<pid>/stat` (clock ticks after boot), or nil if there is no such
    /// process or it has exited (zombie `Z`, dead `X`).
    static func of(pid: Int32) -> UInt64? {
        guard let stat = ThreadStat.read(process: pid), !stat.hasExited else { return nil }
        return stat.startTime
    }

    /// The calling process's start time.
    static func ofSelf() -> UInt64? { of(pid: getpid()) }
}
