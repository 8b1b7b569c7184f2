/// ProcStatus — the `Key:\tvalue` lines of `/proc/<pid>/status` or
/// `/proc/<pid>/task/<tid>/status` (`proc_pid_status(5)`).
package struct ProcStatus: Sendable, Hashable {
    /// Every field, keyed by the name before the colon, value whitespace-trimmed
    /// (`"VmLck" → "0 kB"`).
    package var fields: [String: String]

    /// Parses status text.
    package init(parsing text: String) {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].rtioTrimmed()
        }
        self.fields = fields
    }

    /// Reads and parses `path`; `nil` if it cannot be read.
    package static func read(_ path: String) -> ProcStatus? {
        (try? KernelFile.contents(of: path)).map(ProcStatus.init(parsing:))
    }

    /// The status of process `pid`.
    package static func read(pid: Int32) -> ProcStatus? { read("/proc/\(pid)/status") }

    /// The status of thread `tid` of process `pid`.
    package static func read(tid: Int32, pid: Int32) -> ProcStatus? { read("/proc/\(pid)/task/\(tid)/status") }

    /// The raw value of `key`.
    package subscript(key: String) -> String? { fields[key] }

    /// A decimal value (`voluntary_ctxt_switches`).
    package func integer(_ key: String) -> Int? { fields[key].flatMap { Int($0) } }

    /// An `NNN kB` value (`VmLck`), in KiB.
    package func kibibytes(_ key: String) -> Int? {
        fields[key].flatMap { Int($0.split(separator: " ").first ?? "") }
    }
}
