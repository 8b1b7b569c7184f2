import ArgumentParser

struct RingCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "ring", abstract: "Submission-ring microbenchmark"); func run() throws { print("ring: not yet") } }
