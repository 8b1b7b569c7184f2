import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Tests/CPrograms/aio_listio.c: lio_listio as POSIX and glibc do it.
@Suite("AIOListIO", .serialized, .tags(.cPrograms))
struct AIOListIOTests {
    @Test("per-entry and list notifications, EIO for failed entries, EINVAL entry for a bad opcode, no EAGAIN for bad descriptors")
    func listIOLikeGlibc() throws {
        let run = try aioCompareWithGlibc("aio_listio")
        #expect(run?.results["nowait_entry_notifications"] == "16")
        #expect(run?.results["nowait_list_notifications"] == "1")
        #expect(run?.results["wait_entry_signals"] == "16")
        #expect(run?.results["wait_exec_failure"] == "-1 5 entry5=9 entry6=0")  // EIO; the entry EBADF
        #expect(run?.results["wait_bad_opcode"] == "-1 5 entry7=22 entry8=0")  // EIO; the entry EINVAL
        #expect(run?.results["nowait_all_bad_fd"] == "0 0 ebadf=16 list=1")
    }
}
