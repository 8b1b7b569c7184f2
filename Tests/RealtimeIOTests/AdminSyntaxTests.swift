import Foundation
import Testing

@testable import RealtimeIO
@testable import RealtimeIOLinux

/// tuna/chrt/taskset/ionice spellings, and one exit status per kind of error.
/// Syntax is checked before any process is looked at, so pid 1 is a safe target.
@Suite("Admin: syntax and exit statuses")
struct AdminSyntaxTests {
    @Test func tasksetCPUListsAndMasks() throws {
        #expect(try CPUList(parsing: "0-7:2").cpus == [0, 2, 4, 6])
        #expect(try CPUList(parsing: "1-9:4").cpus == [1, 5, 9])
        #expect(try CPUList(parsing: "0-7:1/2").cpus == [0, 2, 4, 6])  // the kernel's form still works
        #expect(try CPUList.parsingMask("0x3").cpus == [0, 1])
        #expect(try CPUList.parsingMask("ff00").cpus == Array(8...15))
        #expect(try CPUList.parsingMask("00000001,00000000").cpus == [32])
        #expect(throws: CPUListError.self) { try CPUList.parsingMask("0xg") }
        #expect(throws: CPUListError.self) { try CPUList.parsingMask("0x0") }
        #expect(throws: CPUListError.self) { try CPUList(parsing: "0-7:0") }
    }

    @Test func badSchedulingSyntaxIsAUsageError() throws {
        for (policy, mention) in [("fifo:0", "priority 0"), ("rr:100", "priority 100"), ("SCHED_FIFO", "needs a priority"),
                                  ("batch:20", "nice 20"), ("idle:3", "idle takes no"), ("x:1", "unknown policy 'x'"),
                                  ("100", "1...99"), ("deadline", "chrt -d"), ("f:", "not a number")] {
            let r = try admin(["set-priority", "1", "all", policy])
            #expect(r.status == 64, "\(policy): \(r.status) \(r.err)")
            #expect(r.err.contains(mention), "\(policy): \(r.err)")
        }
    }

    @Test func usageErrorsExit64InEveryCommand() throws {
        let cases: [[String]] = [
            ["set-affinity", "1", "all", "1-"], ["set-affinity", "1", "all", "0xzz"], ["set-ioprio", "1", "all", "rt:8"],
            ["set-ioprio", "1", "all", "be"], ["set-priority", "1", "all", "fifo"], ["show", "12x"], ["show", "0"],
            ["plan", "--workers", "0"], ["check", "--binary", "/nonexistent/app"], ["check", "--pid", "x"],
            ["top", "--interval", "0", "--once"], ["top", "--sort", "size", "--once"], ["metrics", "--listen", "host:99999"],
            ["list", "--bogus"], ["set-affinity", "abc", "all", "0"],
        ]
        for arguments in cases {
            let r = try admin(arguments)
            #expect(r.status == 64, "\(arguments): exit \(r.status), stderr \(r.err)")
            #expect(!r.err.isEmpty, "\(arguments): no message")
        }
        let missing = try admin(["check", "--binary", "/nonexistent/app"])
        #expect(missing.err.contains("/nonexistent/app") && !missing.out.contains("setcap"))
    }

    @Test func noSuchProcessExits66() throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let dead = "\(child.processIdentifier)"
        for arguments in [["show", dead], ["set-priority", dead, "all", "fifo:10"], ["set-affinity", dead, "all", "0"],
                          ["set-ioprio", dead, "all", "idle"], ["check", "--pid", dead], ["metrics", "--pid", dead]] {
            let r = try admin(arguments)
            #expect(r.status == 66, "\(arguments): exit \(r.status), stderr \(r.err)")
        }
        // A live process without an engine: 66 too, with the reason.
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        // SIGKILL, not terminate()'s SIGTERM: a child spawned from a dispatch thread inherits
        // its blocked-signal mask (SIGTERM included), and sleep would run its 30 s.
        defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
        let plain = try admin(["show", "\(sleeper.processIdentifier)"])
        #expect(plain.status == 66 && plain.err.contains("no running RealtimeIO engine in pid \(sleeper.processIdentifier)"), "\(plain.err)")
        let metrics = try admin(["metrics", "--pid", "\(sleeper.processIdentifier)"])
        #expect(metrics.status == 66 && metrics.err.contains("no running RealtimeIO engine"), "\(metrics.err)")
    }

    @Test func versionAndHelpDocumentExitStatuses() throws {
        let version = try admin(["--version"])
        #expect(version.status == 0 && version.out.trimmingCharacters(in: .whitespacesAndNewlines) == RealtimeIOVersion.string)
        let help = try admin(["--help"])
        for code in ["64", "65", "66", "70", "71", "77"] { #expect(help.out.contains("  \(code) "), "\(code) missing in --help") }
    }

    @Test func planRefusesTwoSpinningWorkersPerCPU() throws {
        let cpus = try ProcessCPUs.current().allowed.count
        let usable = max(1, cpus - 1)  // CPU 0 is left for housekeeping
        let refused = try admin(["plan", "--workers", "\(usable + 1)"])
        #expect(refused.status == 64, "\(refused.out) \(refused.err)")
        #expect(refused.err.contains("--allow-shared") && refused.err.contains("one CPU"), "\(refused.err)")
        let allowed = try admin(["plan", "--workers", "\(usable + 1)", "--allow-shared", "--json"])
        #expect(allowed.status == 0, "\(allowed.err)")
        let fits = try admin(["plan", "--workers", "\(usable)", "--json"])
        #expect(fits.status == 0, "\(fits.err)")
    }
}
