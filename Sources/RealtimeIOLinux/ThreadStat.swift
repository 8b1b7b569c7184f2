#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// ThreadStat — the fields of `/proc/<pid>/task/<tid>/stat` (or `/proc/<pid>/stat`)
/// that RealtimeIO uses; the one parser of that format in the package.
///
/// FORMAT (`proc_pid_stat(5)`)
///
///     1 pid  2 (comm)  3 state  …  10 minflt  12 majflt  …  19 nice  …  22 starttime
///     …  39 processor  40 rt_priority  41 policy  …
///
/// Field 2 is the thread's name in parentheses. The name is up to 15 bytes the
/// thread (or anyone with access) chose, so it may itself contain spaces and
/// `)`: the parser takes the name up to the *last* `)` in the line and counts
/// the remaining fields from there, never by splitting the whole line.
package struct ThreadStat: Sendable, Hashable {
    /// Field 1: the thread (or process) id.
    package var id: Int32
    /// Field 2: the name (`comm`), without the parentheses.
    package var command: String
    /// Field 3: `R` running, `S` sleeping, `D` disk sleep, `T` stopped, `t` traced,
    /// `Z` zombie, `X` dead, `I` idle kernel thread, …
    package var state: Character
    /// Field 10: minor page faults.
    package var minorFaults: Int
    /// Field 12: major page faults.
    package var majorFaults: Int
    /// Field 19: the nice value (-20...19).
    package var nice: Int
    /// Field 22: start time, in clock ticks after boot.
    package var startTime: UInt64
    /// Field 39: CPU last run on.
    package var processor: Int
    /// Field 40: real-time priority (1...99 for SCHED_FIFO/SCHED_RR, else 0).
    package var realtimePriority: Int
    /// Field 41: the kernel's policy number (`SCHED_OTHER` 0, `SCHED_FIFO` 1, …).
    package var policy: Int

    /// Whether the task has exited (zombie `Z` or dead `X`): its fields no longer change.
    package var hasExited: Bool { state == "Z" || state == "X" }

    /// Reads `/proc/<pid>/task/<tid>/stat` (`pid` nil = `self`); nil if there is no such thread.
    package static func read(tid: Int32, pid: Int32? = nil) -> ThreadStat? {
        let path = "/proc/\(pid.map(String.init) ?? "self")/task/\(tid)/stat"
        guard let text = try? KernelFile.contents(of: path) else { return nil }
        return parse(text)
    }

    /// Reads `/proc/<pid>/stat`, the process (its main thread, with process-wide
    /// fault counts); nil if there is no such process.
    package static func read(process pid: Int32) -> ThreadStat? {
        guard let text = try? KernelFile.contents(of: "/proc/\(pid)/stat") else { return nil }
        return parse(text)
    }

    /// Parses one stat line; nil if it does not have the fields above.
    package static func parse(_ text: String) -> ThreadStat? {
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close,
              let id = Int32(text[..<open].rtioTrimmed()) else { return nil }
        let command = String(text[text.index(after: open)..<close])
        let rest = text[text.index(after: close)...].split(whereSeparator: { $0 == " " || $0 == "\n" })
        // rest[0] is field 3 (state); field n is rest[n - 3].
        func field<T: FixedWidthInteger>(_ n: Int, as: T.Type = Int.self) -> T? {
            n - 3 < rest.count ? T(rest[n - 3]) : nil
        }
        guard let stateText = rest.first, stateText.count == 1, let state = stateText.first,
              let minflt = field(10), let majflt = field(12), let nice = field(19),
              let start = field(22, as: UInt64.self),
              let processor = field(39), let rtprio = field(40), let policy = field(41) else { return nil }
        return ThreadStat(
            id: id, command: command, state: state, minorFaults: minflt, majorFaults: majflt, nice: nice,
            startTime: start, processor: processor, realtimePriority: rtprio, policy: policy)
    }
}
