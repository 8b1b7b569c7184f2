import ArgumentParser
import RealtimeIO

/// rtio-admin — inspect and prepare a Linux host for RealtimeIO.
///
/// Each subcommand lives in its own file as a `ParsableCommand`; to add one,
/// append its type to `subcommands` below.
@main
struct RTIOAdmin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtio-admin",
        abstract: "Inspect and prepare a Linux host for RealtimeIO.",
        version: RealtimeIOVersion.string,
        subcommands: [
            CheckCommand.self,
            ListCommand.self,
            ShowCommand.self,
            SetAffinityCommand.self,
            SetPriorityCommand.self,
            PlanCommand.self,
        ]
    )
}
