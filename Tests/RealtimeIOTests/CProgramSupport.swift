import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// The C ABI (librealtimeio.so + Sources/RealtimeIOC/include/realtimeio.h), driven
// from C: the programs in Tests/CPrograms are compiled with `cc` during the test
// and linked against the built librealtimeio.so, which `swift build --build-tests`
// / `swift test` build next to the test bundle (the test build includes every product).

/// The package root (this file is Tests/RealtimeIOTests/CABITests.swift).
let cPackageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// The directory holding the built products (librealtimeio.so, librtio-aio.so, executables).
func cProductsDirectory() -> String {
    URL(fileURLWithPath: builtProduct("librealtimeio.so")).deletingLastPathComponent().path
}

/// A built shared library of this package, or nil (with the reason recorded) if it was not built.
func cBuiltLibrary(_ name: String) -> String? {
    let path = cProductsDirectory() + "/" + name
    guard FileManager.default.fileExists(atPath: path) else {
        Issue.record("\(path) not built; run `swift build --build-tests` (it builds every product)")
        return nil
    }
    return path
}

struct CProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var timedOut: Bool
}

/// Runs a program with extra environment, killing its whole process group after
/// `timeout` seconds. posix_spawn, not Foundation.Process: the child starts in its
/// own process group (fio forks job processes) with every signal unblocked and at
/// its default disposition, and is reaped here with waitpid.
@discardableResult
func cRun(_ executable: String, _ arguments: [String] = [], environment: [String: String] = [:],
          timeout: Double = 60) throws -> CProcessResult {
    let base = NSTemporaryDirectory() + "rtio-c-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    let outPath = base + ".out", errPath = base + ".err"
    defer { unlink(outPath); unlink(errPath) }
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for p in argv { free(p) }; for p in envp { free(p) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var none = sigset_t(), all = sigset_t()
    sigemptyset(&none)
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attr, &none)
    posix_spawnattr_setsigdefault(&attr, &all)
    posix_spawnattr_setpgroup(&attr, 0)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
    try requireExecutable(executable)
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, executable, &actions, &attr, argv, envp)
    guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
    let deadline = Date().addingTimeInterval(timeout)
    var status: Int32 = 0
    var timedOut = false
    while true {
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { break }
        if r < 0 && errno != EINTR { break }
        if !timedOut && Date() > deadline {
            timedOut = true
            kill(-pid, SIGKILL)
        }
        usleep(5_000)
    }
    kill(-pid, SIGKILL)  // leftovers of the group (e.g. a forked child still running)
    let exited = status & 0x7f == 0
    let code: Int32 = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    return CProcessResult(status: code, stdout: out, stderr: err, timedOut: timedOut)
}

/// Compiles C sources with `cc` into a temporary executable; records the compiler output on failure.
func cCompile(_ sources: [String], name: String, flags: [String]) throws -> String? {
    let output = NSTemporaryDirectory() + "rtio-\(name)-\(getpid())"
    let args = ["-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror"] + sources + ["-o", output] + flags
    let r = try cRun("/usr/bin/cc", args, timeout: 120)
    guard r.status == 0 else {
        Issue.record("cc \(args.joined(separator: " ")) failed (\(r.status)):\n\(r.stderr)")
        return nil
    }
    return output
}
