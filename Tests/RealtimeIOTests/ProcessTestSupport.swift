import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import SystemPackage
import Testing

/// Path of an executable built next to the test bundle.
func builtProduct(_ name: String) -> String {
    let bundle = Bundle.main.bundleURL.deletingLastPathComponent()
    for dir in [bundle, URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()] {
        let candidate = dir.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return bundle.appendingPathComponent(name).path
}

/// Fails the test (it does not skip it) when a program it runs is missing, naming where it comes from.
func requireExecutable(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    try #require(
        FileManager.default.isExecutableFile(atPath: path),
        "\(path) is missing or not executable: system tools (cc, c++, fio, capsh, setcap) come from tools/setup, this package's products from `swift build --build-tests`",
        sourceLocation: sourceLocation)
}

/// Runs a command, returning (exit status, stdout).
func runProcess(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
    try requireExecutable(executable)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Number of threads of this process.
func threadCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1
}

/// Thread ids of this process now.
func threadIDs() -> Set<Int32> {
    Set(((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []).compactMap { Int32($0) })
}

/// Threads alive now that were not in `before` and whose name starts with one
/// of `prefixes` ("tid name" each): what a test's own engines created and did
/// not join. A process-wide count cannot tell that: suites running in parallel
/// (the ThreadSanitizer run) start and stop threads of their own.
func newThreads(since before: Set<Int32>, named prefixes: [String]) -> [String] {
    threadIDs().subtracting(before).compactMap { tid in
        let name = ((try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return prefixes.contains { name.hasPrefix($0) } ? "\(tid) \(name)" : nil
    }
}

/// Runs a command, returning its exit status and combined output.
func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    try requireExecutable(executable)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Copies an executable with `cp` in a child process, never through a descriptor of this one.
///
/// Suites run in parallel and fork children; a child forked while this process held the
/// copy open for writing keeps that descriptor until it execs, and an exec of the copy in
/// that window fails with ETXTBSY ("Text file busy"). Writing it from another process
/// leaves no such descriptor here.
func copyExecutable(_ source: String, to destination: String) throws {
    let result = try run("/bin/cp", [source, destination])
    try #require(result.status == 0, "cp \(source) \(destination): \(result.output)")
}
