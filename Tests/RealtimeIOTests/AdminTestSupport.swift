import Foundation
import Testing

@testable import RealtimeIO
@testable import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

// rtio-admin against live engines: status files, list/show, retuning, plan.
// `swift test` builds rtio-admin too (the "test" build target includes every product),
// so `builtProduct` finds it next to the test bundle.

/// Runs rtio-admin, returning exit status, stdout and stderr. `launcher` runs it
/// through another program (e.g. `setpriv --reuid=65534 …`); `environment` replaces the environment.
func admin(
    _ arguments: [String], launcher: [String] = [], environment: [String: String]? = nil
) throws -> (status: Int32, out: String, err: String) {
    try requireExecutable(builtProduct("rtio-admin"))
    let p = Process()
    if let first = launcher.first {
        p.executableURL = URL(fileURLWithPath: first)
        p.arguments = Array(launcher.dropFirst()) + [builtProduct("rtio-admin")] + arguments
    } else {
        p.executableURL = URL(fileURLWithPath: builtProduct("rtio-admin"))
        p.arguments = arguments
    }
    if let environment { p.environment = environment }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
}

/// `rtio-testhost --hold … --workers 2 --name adm` in a child process; killed by `stop()` or deinit.
final class TestHost {
    let process = Process()
    var pid: Int32 { process.processIdentifier }
    var workers: [(name: String, tid: Int32)] = []

    /// - Parameters:
    ///   - arguments: the host's arguments.
    ///   - launcher: runs the host through another program (e.g. `setpriv` to drop privileges).
    ///   - environment: replaces the host's environment (e.g. another `XDG_RUNTIME_DIR`).
    init(
        arguments: [String] = ["--hold", "120", "--workers", "2", "--name", "adm"],
        launcher: [String] = [], environment: [String: String]? = nil
    ) throws {
        try requireExecutable(builtProduct("rtio-testhost"))
        if let first = launcher.first {
            process.executableURL = URL(fileURLWithPath: first)
            process.arguments = Array(launcher.dropFirst()) + [builtProduct("rtio-testhost")] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: builtProduct("rtio-testhost"))
            process.arguments = arguments
        }
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        // The first line is the start report.
        var line = Data()
        let handle = pipe.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let report = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any], "host said: \(String(decoding: line, as: UTF8.self))")
        guard report["started"] as? Bool == true else {
            stop()
            throw TestHostError.notStarted(String(decoding: line, as: UTF8.self))
        }
        for w in report["workers"] as? [[String: Any]] ?? [] {
            workers.append((w["name"] as? String ?? "", Int32(w["tid"] as? Int ?? 0)))
        }
    }

    /// SIGKILL (no shutdown: its status file is left behind, as after a crash) and reap.
    func stop() {
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }

    enum TestHostError: Error { case notStarted(String) }
}

/// Expects a failed run with exactly one line on stderr containing `mentioning`.
func expectRejected(_ arguments: [String], mentioning: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let r = try admin(arguments)
    #expect(r.status != 0, "\(arguments) exited 0: \(r.out)", sourceLocation: sourceLocation)
    let lines = r.err.split(separator: "\n")
    #expect(lines.count == 1, "\(arguments): stderr \(r.err)", sourceLocation: sourceLocation)
    #expect(r.err.contains(mentioning), "\(arguments): stderr \(r.err)", sourceLocation: sourceLocation)
}
