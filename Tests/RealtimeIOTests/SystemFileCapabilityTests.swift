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

@Suite("System: file capabilities")
struct SystemFileCapabilityTests {
    @Test(.tags(.needsRoot)) func setcapIsReadBack() throws {
        let path = try temporaryCopyOfTrue()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }

        // A fresh copy has no capabilities: empty, not an error.
        let before = try PrivilegeReport.fileCapabilities(path: path)
        #expect(before.isEmpty)
        #expect(before.description == "")

        let setcap = try run("/usr/sbin/setcap", ["cap_sys_nice+ep", path])
        // We run as root on a filesystem with xattrs (tmpfs/ext4/overlay); if this
        // fails, the output says why (e.g. "Operation not supported").
        try #require(setcap.status == 0, "setcap failed on \(path): \(setcap.output)")

        let after = try PrivilegeReport.fileCapabilities(path: path)
        #expect(after.permitted == [.sysNice])
        #expect(after.effective == [.sysNice])
        #expect(after.inheritable.isEmpty)
        #expect(after.grants(.sysNice))
        #expect(!after.grants(.ipcLock))
        #expect(after.description == "cap_sys_nice=ep")

        // Permitted without effective is visible as such.
        #expect(try run("/usr/sbin/setcap", ["cap_ipc_lock+p", path]).status == 0)
        let permittedOnly = try PrivilegeReport.fileCapabilities(path: path)
        #expect(permittedOnly.permitted == [.ipcLock])
        #expect(permittedOnly.effective.isEmpty)
        #expect(!permittedOnly.grants(.ipcLock))
    }

    @Test func missingFileIsAClearError() {
        let error = #expect(throws: FileCapabilitiesError.self) {
            try PrivilegeReport.fileCapabilities(path: "/nonexistent/rtio-binary")
        }
        #expect(error?.errno == .noSuchFileOrDirectory)
        #expect(error?.description.contains("/nonexistent/rtio-binary") == true)
        #expect(error?.description.contains("no such file") == true)
    }
}
