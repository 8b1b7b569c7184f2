import CRealtimeIOShims
import Dispatch
import Foundation
import SystemPackage
import Testing

@testable import RealtimeIO
@testable import RealtimeIODiagnostics
@testable import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

/// The built `rtio-admin`, which sits next to the test bundle in the build products directory.
private func rtioAdminPath() throws -> String {
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
    // The bundle may be a directory (…/RealtimeIOPackageTests.xctest/…) on some layouts.
    while directory.path != "/" {
        let candidate = directory.appendingPathComponent("rtio-admin").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        if directory.lastPathComponent == "debug" || directory.lastPathComponent == "release" { break }
        directory.deleteLastPathComponent()
    }
    Issue.record("rtio-admin is not built next to \(executable); run `swift build --scratch-path .build-sys` first")
    throw CancellationError()
}

private func decodeCheckOutput(_ output: String) throws -> (checks: [[String: Any]], exitCode: Int) {
    let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
    let checks = try #require(object?["checks"] as? [[String: Any]], "no checks in: \(output)")
    let exitCode = try #require(object?["exitCode"] as? Int, "no exitCode in: \(output)")
    return (checks, exitCode)
}

@Suite("System: rtio-admin check")
struct SystemAdminCheckTests {
    @Test func jsonMatchesExitStatus() throws {
        let admin = try rtioAdminPath()
        let result = try run(admin, ["check", "--json"])
        let decoded = try decodeCheckOutput(result.output)
        #expect(decoded.exitCode == Int(result.status))
        #expect(decoded.checks.compactMap { $0["name"] as? String } == ReadinessChecks.Name.allCases.map(\.rawValue))
        let statuses = decoded.checks.compactMap { $0["status"] as? String }
        let expected = statuses.contains("fail") ? 2 : statuses.contains("warn") ? 1 : 0
        #expect(decoded.exitCode == expected)

        let table = try run(admin, ["check"])
        #expect(table.status == result.status)
        #expect(table.output.hasPrefix("subject: this process (rtio-admin itself"))
        #expect(table.output.contains("\nCHECK"))
        for name in ReadinessChecks.Name.allCases {
            #expect(table.output.contains(name.rawValue))
        }
    }

    @Test(.tags(.needsRoot)) func unprivilegedChildFailsTheCapabilityCheck() throws {
        let admin = try rtioAdminPath()
        let capsh = "/usr/sbin/capsh"
        try #require(FileManager.default.isExecutableFile(atPath: capsh), "capsh (libcap2-bin) is missing: run tools/setup")
        let result = try run(capsh, [
            "--drop=cap_sys_nice,cap_ipc_lock", "--",
            "-c", #"ulimit -r 0; exec "$0" check --json"#, admin,
        ])
        let decoded = try decodeCheckOutput(result.output)
        let capabilities = try #require(decoded.checks.first { $0["name"] as? String == "capabilities" })
        let status = capabilities["status"] as? String
        #expect(status == "fail" || status == "warn", "capabilities: \(capabilities)")
        #expect((capabilities["detail"] as? String)?.contains("cap_sys_nice") == true)
        #expect((capabilities["remedy"] as? String)?.contains("setcap") == true)
        let rtprio = try #require(decoded.checks.first { $0["name"] as? String == "rtprio-limit" })
        #expect(rtprio["status"] as? String == "fail", "rtprio-limit: \(rtprio)")
        #expect(decoded.exitCode >= 1)
        #expect(Int(result.status) == decoded.exitCode)
    }

    @Test(.tags(.needsRoot)) func binaryOptionReportsFileCapabilities() throws {
        let admin = try rtioAdminPath()
        let withCaps = try temporaryCopyOfTrue()
        let without = try temporaryCopyOfTrue()
        defer {
            for path in [withCaps, without] {
                try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
            }
        }
        let setcap = try run("/usr/sbin/setcap", ["cap_sys_nice,cap_ipc_lock+ep", withCaps])
        try #require(setcap.status == 0, "setcap: \(setcap.output)")

        func capabilityCheck(_ launcher: String, _ arguments: [String]) throws -> [String: Any] {
            let result = try run(launcher, arguments)
            let decoded = try decodeCheckOutput(result.output)
            return try #require(decoded.checks.first { $0["name"] as? String == "capabilities" })
        }
        // As an unprivileged user (nobody), only file capabilities count.
        let asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups", admin, "check", "--json", "--binary"]
        let granted = try capabilityCheck("/usr/bin/setpriv", asNobody + [withCaps])
        #expect(granted["status"] as? String == "pass", "\(granted)")
        #expect((granted["detail"] as? String)?.contains("cap_ipc_lock=ep cap_sys_nice=ep") == true, "\(granted)")
        let bare = try capabilityCheck("/usr/bin/setpriv", asNobody + [without])
        #expect(bare["status"] as? String == "fail", "\(bare)")
        #expect((bare["detail"] as? String)?.contains("file capabilities none") == true, "\(bare)")

        // File capabilities are masked by the bounding set.
        let masked = try capabilityCheck("/usr/sbin/capsh", [
            "--drop=cap_sys_nice", "--", "-c", #"exec "$0" check --json --binary "$1""#, admin, withCaps,
        ])
        #expect(masked["status"] as? String == "fail", "\(masked)")
        #expect((masked["detail"] as? String)?.contains("bounding set lacks cap_sys_nice") == true, "\(masked)")
    }
}
