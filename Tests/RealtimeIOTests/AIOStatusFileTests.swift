import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Tests/CPrograms/aio_status.c: no status file is left behind — removed at
// exit, a forked child's own removed at its exit, an exec'd image's leftover
// removed by the new image's engine.
@Suite("AIOStatusFile", .serialized, .tags(.cPrograms))
struct AIOStatusFileTests {
    @Test("after a process that forked and exec'd, its status directory is empty")
    func noLeftovers() throws {
        guard let exe = try aioCompile("aio_status") else { return }
        defer { unlink(exe) }
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard let run = try aioRun(exe, [dir], dropIn: true, environment: ["XDG_RUNTIME_DIR": dir]) else { return }
        #expect(run.completed, "\(run.transcript)")
        #expect(run.results["files_after_child"] == "1")
        #expect(run.results["files_in_exec_image"] == "1")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/rtio")) ?? []
        #expect(left.filter { $0.hasSuffix(".status") }.isEmpty, "left behind: \(left)")
    }
}
