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

@Suite("System: readiness checks")
struct SystemReadinessTests {
    @Test func everyNamedCheckRunsOnce() throws {
        let checks = ReadinessChecks.run(binary: nil)
        #expect(checks.map(\.name) == ReadinessChecks.Name.allCases.map(\.rawValue))
        for check in checks {
            #expect(!check.detail.isEmpty, "\(check.name) has no detail")
            if check.status != .pass {
                #expect(check.remedy?.isEmpty == false, "\(check.name) is \(check.status) without a remedy")
            }
        }
        func status(_ name: ReadinessChecks.Name) throws -> ReadinessCheck {
            try #require(checks.first { $0.name == name.rawValue })
        }

        // Statuses agree with the files they come from.
        // The engine's default real-time share keeps workers under a throttle that allows more.
        let runtime = try #require(PrivilegeReport.current().schedRTRuntimeMicroseconds)
        let period = try #require(PrivilegeReport.current().schedRTPeriodMicroseconds)
        let share = ReadinessChecks.defaultRealtimeSharePercent
        let expectedThrottling: ReadinessCheck.Status =
            runtime < 0 ? .pass : runtime == 0 ? .fail : runtime >= period ? .pass
            : (share < 100 && share <= runtime * 100 / period) ? .pass : .warn
        #expect(try status(.rtThrottling).status == expectedThrottling)

        let swaps = try String(contentsOfFile: "/proc/swaps", encoding: .utf8)
        let hasSwap = swaps.split(separator: "\n").count > 1
        #expect(try status(.swap).status == (hasSwap ? .warn : .pass))

        if let thp = try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8) {
            #expect(try status(.transparentHugepages).status == (thp.contains("[always]") ? .warn : .pass))
        }
        let isolated = try SystemTopology.isolatedCPUs()
        #expect(try status(.isolatedCPUs).status == (isolated.isEmpty ? .warn : .pass))

        let report = PrivilegeReport.current()
        let allCaps = report.sysNice.effective && report.ipcLock.effective
        #expect(try (status(.capabilities).status == .pass) == allCaps)
    }

    @Test func selectedModeParsing() {
        #expect(ReadinessChecks.selectedMode("always [madvise] never") == "madvise")
        #expect(ReadinessChecks.selectedMode("[always] madvise never") == "always")
        #expect(ReadinessChecks.selectedMode("always madvise never") == nil)
    }

    @Test func exitCodes() {
        func checks(_ statuses: ReadinessCheck.Status...) -> [ReadinessCheck] {
            statuses.map { ReadinessCheck(name: "x", status: $0, detail: "d") }
        }
        #expect(ReadinessChecks.exitCode(for: []) == 0)
        #expect(ReadinessChecks.exitCode(for: checks(.pass, .pass)) == 0)
        #expect(ReadinessChecks.exitCode(for: checks(.pass, .warn)) == 1)
        #expect(ReadinessChecks.exitCode(for: checks(.warn, .fail, .pass)) == 2)
    }

    @Test func binaryWithoutFileCapabilitiesOrMissing() throws {
        let missing = ReadinessChecks.run(binary: "/nonexistent/rtio-binary")
        let caps = try #require(missing.first { $0.name == "capabilities" })
        #expect(caps.status == .fail)
        #expect(caps.detail.contains("/nonexistent/rtio-binary"))
    }
}
