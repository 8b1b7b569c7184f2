import ArgumentParser
import Foundation
import RealtimeIO
import RealtimeIODiagnostics
import RealtimeIOLinux

/// `rtio-admin check [--binary PATH | --pid PID] [--json]`
///
/// Runs `ReadinessChecks` for the application — an executable's file
/// capabilities (`--binary`) or a running process (`--pid`: its capabilities,
/// limits, cgroup cpuset and the CPUs its engine uses) — and prints a table (or
/// JSON). Exit status: 0 all pass, 1 a warning, 2 a failure; 64 for a missing
/// binary; without either option it judges rtio-admin's own process and says so.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check whether this host and an application are ready for real-time I/O.",
        discussion: """
            Checks capabilities (CAP_SYS_NICE, CAP_IPC_LOCK), RLIMIT_RTPRIO, RLIMIT_MEMLOCK, \
            real-time throttling against the engine's real-time share, isolated and nohz_full CPUs, \
            PREEMPT_RT, the cpufreq governor, swap and transparent huge pages. Give --binary PATH \
            (the application's executable) or --pid PID (a running application); without either \
            the privilege rows describe rtio-admin itself.

            Exit status: 0 all checks pass, 1 at least one warning, 2 at least one failure; \
            64 bad option or missing binary, 66 no such process, 77 permission denied.
            """
    )

    @Option(name: .long, help: ArgumentHelp("Judge this executable's file capabilities.", valueName: "path"))
    var binary: String?

    @Option(name: .long, help: ArgumentHelp("Judge this running process (and its engine).", valueName: "pid"))
    var pid: String?

    @Flag(name: .long, help: "Print {\"subject\": ..., \"checks\": [...], \"exitCode\": N} as JSON.")
    var json = false

    func run() throws {
        if binary != nil && pid != nil { throw AdminError.usage("give --binary or --pid, not both") }
        if let binary {
            var st = stat()
            guard stat(binary, &st) == 0 else {
                throw AdminError.usage("--binary \(binary): \(String(cString: strerror(errno))); give the path of the application's executable")
            }
            guard st.st_mode & S_IFMT == S_IFREG else { throw AdminError.usage("--binary \(binary) is not a regular file") }
        }
        var process: ProcessPrivileges? = nil
        var share: Int? = nil
        var extra: [ReadinessCheck] = []
        var subject = binary ?? "this process (rtio-admin itself; use --binary or --pid to judge the application)"
        if let pid {
            let id = try Admin.pid(pid)
            guard let p = ProcessPrivileges(pid: id) else {
                if access("/proc/\(id)", F_OK) == 0 { throw AdminError("cannot read /proc/\(id)/status: permission denied", .noPermission) }
                throw AdminError("no process \(id)", .noInput)
            }
            process = p
            subject = "pid \(id) (\(ProcFiles.command(pid: id) ?? "?"))"
            let readers = (try? StatusFile.open(pid: id)) ?? []
            if let first = readers.first { share = first.summary.realtimeSharePercent }
            extra = Self.processRows(p, readers: readers)
        }
        let checks = ReadinessChecks.run(binary: binary, process: process, realtimeSharePercent: share) + extra
        let code = ReadinessChecks.exitCode(for: checks)
        if json {
            struct Output: Encodable { var subject: String; var checks: [ReadinessCheck]; var exitCode: Int32 }
            print(try Admin.json(Output(subject: subject, checks: checks, exitCode: code)))
        } else {
            print("subject: \(subject)")
            print(Self.table(checks), terminator: "")
        }
        if code != 0 { throw ExitCode(code) }
    }

    /// The cpuset and engine-CPU rows of `--pid`.
    static func processRows(_ p: ProcessPrivileges, readers: [StatusFileReader]) -> [ReadinessCheck] {
        var rows: [ReadinessCheck] = []
        let allowed = p.allowedCPUs.map { "\($0)" } ?? "?"
        let cgroupCPUs = p.cgroupCPUs.map { "\($0)" } ?? "unknown"
        rows.append(ReadinessCheck(
            name: "cpuset", status: .pass,
            detail: "cgroup \(p.cgroup ?? "?"): CPUs \(cgroupCPUs); process allowed CPUs \(allowed)"))
        guard !readers.isEmpty else {
            rows.append(ReadinessCheck(name: "engine-cpus", status: .warn, detail: "pid \(p.pid) publishes no running engine",
                                       remedy: "start the application's engine, then check again"))
            return rows
        }
        var used: [Int] = []
        var notes: [String] = []
        var status = ReadinessCheck.Status.pass
        for reader in readers {
            for w in reader.workers where ProcFiles.isThread(w.tid, of: p.pid) {
                if let cpus = try? SystemTopology.allowedCPUs(tid: w.tid) {
                    used += cpus.cpus
                    if let cg = p.cgroupCPUs, !cg.isEmpty, !cpus.isSubset(of: cg) {
                        status = .warn
                        notes.append("\(w.name) on \(cpus) outside the cpuset \(cg)")
                    }
                }
            }
        }
        let list = (try? CPUList(used)).map { "\($0)" } ?? "?"
        rows.append(ReadinessCheck(
            name: "engine-cpus", status: status,
            detail: "workers use CPUs \(list)" + (notes.isEmpty ? "" : "; " + notes.joined(separator: "; ")),
            remedy: notes.isEmpty ? nil : "pin the workers inside the cpuset (rtio-admin set-affinity)"))
        return rows
    }

    static func table(_ checks: [ReadinessCheck]) -> String {
        let nameWidth = max("CHECK".count, checks.map(\.name.count).max() ?? 0)
        let statusWidth = 6
        func pad(_ text: String, _ width: Int) -> String {
            text + String(repeating: " ", count: max(0, width - text.count))
        }
        var out = pad("CHECK", nameWidth) + "  " + pad("STATUS", statusWidth) + "  DETAIL\n"
        let indent = String(repeating: " ", count: nameWidth + 2 + statusWidth + 2)
        for check in checks {
            out += pad(check.name, nameWidth) + "  " + pad(check.status.rawValue.uppercased(), statusWidth)
                + "  " + check.detail + "\n"
            if check.status != .pass, let remedy = check.remedy {
                out += indent + "remedy: " + remedy + "\n"
            }
        }
        let counts = ReadinessCheck.Status.allCases.map { status in
            "\(checks.filter { $0.status == status }.count) \(status.rawValue)"
        }.joined(separator: ", ")
        out += "\n\(counts); exit status \(ReadinessChecks.exitCode(for: checks))\n"
        return out
    }
}
