import ArgumentParser
import Foundation
import RealtimeIO
import RealtimeIODiagnostics

/// `rtio-admin check [--binary PATH] [--json]`
///
/// Runs `ReadinessChecks` and prints a table (or JSON). Exit status: 0 when all
/// checks pass, 1 when any warns, 2 when any fails.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check whether this host and process are ready for real-time I/O.",
        discussion: """
            Checks capabilities (CAP_SYS_NICE, CAP_IPC_LOCK), RLIMIT_RTPRIO, RLIMIT_MEMLOCK, \
            real-time throttling, isolated and nohz_full CPUs, PREEMPT_RT, the cpufreq governor, \
            swap and transparent huge pages.

            Exit status: 0 all checks pass, 1 at least one warning, 2 at least one failure.
            """
    )

    @Option(name: .long, help: ArgumentHelp(
        "Check the file capabilities of this executable instead of this process's capabilities.",
        valueName: "path"))
    var binary: String?

    @Flag(name: .long, help: "Print {\"checks\": [...], \"exit_code\": N} as JSON.")
    var json = false

    func run() throws {
        let checks = ReadinessChecks.run(binary: binary)
        let code = ReadinessChecks.exitCode(for: checks)
        if json {
            print(try Self.json(checks: checks, exitCode: code))
        } else {
            print(Self.table(checks), terminator: "")
        }
        if code != 0 { throw ExitCode(code) }
    }

    private struct Output: Encodable {
        var checks: [ReadinessCheck]
        var exitCode: Int32

        enum CodingKeys: String, CodingKey {
            case checks
            case exitCode = "exit_code"
        }
    }

    static func json(checks: [ReadinessCheck], exitCode: Int32) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(Output(checks: checks, exitCode: exitCode))
        return String(decoding: data, as: UTF8.self)
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
