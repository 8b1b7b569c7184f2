import ArgumentParser
import Foundation
import RealtimeIO

/// rtio-admin — inspect and prepare a Linux host for RealtimeIO.
///
/// Each subcommand lives in its own file as a `ParsableCommand`; to add one,
/// append its type to `subcommands` below. Errors are ``AdminError``s with a
/// sysexits status (``AdminExit``); `main` prints them as one line.
@main
struct RTIOAdmin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtio-admin",
        abstract: "Inspect and prepare a Linux host for RealtimeIO.",
        discussion: """
            Engines are found whatever runtime directory their process used (see rtio-admin list --help). \
            TARGET is a worker thread name (rtio-io-0), a group (io), all, or a worker's thread id. \
            Scheduling: fifo:N rr:N other[:NICE] batch[:NICE] idle, SCHED_* spellings, tuna's f:N r:N o b i, \
            or a bare priority N that keeps a thread's real-time policy. CPU lists: 0-3,6, 0-7:2 (taskset stride), \
            0-7:1/2 (kernel), or a hex mask 0x3 (or with --mask).

            Exit status:
            \(AdminExit.table)
            """,
        version: RealtimeIOVersion.string,
        subcommands: [
            CheckCommand.self,
            ListCommand.self,
            ShowCommand.self,
            TopCommand.self,
            MetricsCommand.self,
            SetAffinityCommand.self,
            SetPriorityCommand.self,
            SetIOPriorityCommand.self,
            PlanCommand.self,
        ]
    )

    /// Parses and runs; an ``AdminError`` exits with its own status, everything
    /// else as ArgumentParser decides (usage errors: 64).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as AdminError {
            FileHandle.standardError.write(Data("Error: \(error.description)\n".utf8))
            Foundation.exit(error.exit.rawValue)
        } catch {
            exit(withError: error)
        }
    }
}
