import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Shared by the AIO*Tests suites: the POSIX AIO drop-in (librtio-aio.so,
// loaded with LD_PRELOAD) driven by the C programs Tests/CPrograms/aio_*.c,
// compiled with `cc` against glibc's <aio.h>. Most programs print
// "RESULT <name> <value>" lines; a suite runs a program under glibc (no
// LD_PRELOAD) and under the drop-in and compares them.

/// The built drop-in, or nil (recorded as an issue naming the build command).
func aioLibrary() -> String? { cBuiltLibrary("librtio-aio.so") }

/// A fresh scratch directory; the caller removes it.
func aioScratchDirectory() throws -> String {
    let dir = NSTemporaryDirectory() + "rtio-aio-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Compiles Tests/CPrograms/`name`.c (which includes aio_common.h) into a temporary executable.
func aioCompile(_ name: String, flags: [String] = []) throws -> String? {
    try cCompile(["\(cPackageRoot)/Tests/CPrograms/\(name).c"], name: "\(name)-\(UInt32.random(in: 0...UInt32.max))",
                 flags: flags + ["-lrt", "-lpthread"])
}

/// One run of an aio_*.c program: its RESULT lines by name, and the whole output.
struct AIOProgramRun {
    var results: [String: String]
    var process: CProcessResult

    /// True if the program printed "OK" last and exited 0.
    var completed: Bool { process.status == 0 && !process.timedOut && process.stdout.hasSuffix("OK\n") }

    var transcript: String { "status \(process.status)\(process.timedOut ? " (timed out)" : "")\nstdout:\n\(process.stdout)\nstderr:\n\(process.stderr)" }
}

/// Runs `exe` with `arguments`, preloading the drop-in when `dropIn` (with
/// `environment` added either way).
func aioRun(_ exe: String, _ arguments: [String], dropIn: Bool, environment: [String: String] = [:],
            timeout: Double = 120) throws -> AIOProgramRun? {
    var env = environment
    if dropIn {
        guard let lib = aioLibrary() else { return nil }
        env["LD_PRELOAD"] = lib
    }
    let r = try cRun(exe, arguments, environment: env, timeout: timeout)
    var results: [String: String] = [:]
    for line in r.stdout.split(separator: "\n") where line.hasPrefix("RESULT ") {
        let parts = line.dropFirst("RESULT ".count).split(separator: " ", maxSplits: 1)
        results[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
    }
    return AIOProgramRun(results: results, process: r)
}

/// Compiles `name`, runs it under glibc and under the drop-in (same arguments,
/// a scratch directory as the first), and checks that both completed with the
/// same RESULT lines. Returns the drop-in's run for further checks.
@discardableResult
func aioCompareWithGlibc(_ name: String, arguments: [String] = [], dropInEnvironment: [String: String] = [:],
                         sourceLocation: SourceLocation = #_sourceLocation) throws -> AIOProgramRun? {
    guard let exe = try aioCompile(name) else { return nil }
    defer { unlink(exe) }
    let dir = try aioScratchDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    guard let glibc = try aioRun(exe, [dir] + arguments, dropIn: false),
          let dropIn = try aioRun(exe, [dir] + arguments, dropIn: true, environment: dropInEnvironment)
    else { return nil }
    #expect(glibc.completed, "\(name) under glibc: \(glibc.transcript)", sourceLocation: sourceLocation)
    #expect(dropIn.completed, "\(name) under the drop-in: \(dropIn.transcript)", sourceLocation: sourceLocation)
    #expect(!dropIn.results.isEmpty, sourceLocation: sourceLocation)
    for (key, value) in glibc.results.sorted(by: { $0.key < $1.key }) {
        #expect(dropIn.results[key] == value, "\(name): \(key) is \(dropIn.results[key] ?? "missing") under the drop-in, \(value) under glibc",
                sourceLocation: sourceLocation)
    }
    return dropIn
}

/// Writes `json` to a file in `dir`; returns its path.
func aioWriteConfiguration(_ json: String, in dir: String, name: String = "aio.json") throws -> String {
    let path = dir + "/" + name
    try json.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}
