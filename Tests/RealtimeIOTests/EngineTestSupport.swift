import CRealtimeIOShims
import Foundation
import RealtimeIO
import SystemPackage

/// A temporary file, removed on deinit.
final class TemporaryFile: @unchecked Sendable {
    let path: String
    let fd: FileDescriptor
    init(size: Int = 0, readOnly: Bool = false) throws {
        path = NSTemporaryDirectory() + "rtio-test-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let w = try FileDescriptor.open(path, .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
        if size > 0 {
            // Each 8-byte word holds its own offset: any read can be verified.
            var words = [UInt64](repeating: 0, count: size / 8)
            for i in words.indices { words[i] = UInt64(i * 8) }
            _ = try words.withUnsafeBytes { try w.writeAll(toAbsoluteOffset: 0, $0) }
        }
        if readOnly {
            try w.close()
            fd = try FileDescriptor.open(path, .readOnly)
        } else {
            fd = w
        }
    }
    deinit {
        try? fd.close()
        unlink(path)
    }
}

/// An engine configuration for tests: small, parks at once unless told otherwise.
func testConfiguration(
    workers: Int = 2, scheduling: SchedulingPolicy = .other(nice: 0), cpus: CPUList? = nil,
    ring: Int = 256, slots: Int = 1024, spin: Int = 0
) -> EngineConfiguration {
    EngineConfiguration(
        groups: [.init(name: "t", workers: workers, cpus: cpus, scheduling: scheduling)],
        ringCapacity: ring, requestsInFlight: slots, spinBudget: .nanoseconds(spin))
}

/// Reaps until `count` completions arrived or `seconds` passed.
func reapAll(_ engine: IOEngine, count: Int, seconds: Double = 10) -> [IOCompletion] {
    var all: [IOCompletion] = []
    all.reserveCapacity(count)
    let deadline = rtio_monotonic_ns() + UInt64(seconds * 1e9)
    while all.count < count && rtio_monotonic_ns() < deadline {
        if engine.reap(rearm: false, { all.append($0) }) == 0 { sched_yield() }
    }
    return all
}

/// Path of an executable built next to the test bundle.
func builtProduct(_ name: String) -> String {
    let bundle = Bundle.main.bundleURL.deletingLastPathComponent()
    for dir in [bundle, URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()] {
        let candidate = dir.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return bundle.appendingPathComponent(name).path
}

/// Runs a command, returning (exit status, stdout).
func runProcess(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
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
