import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Tests/CPrograms/aio_edge.c: aio_fsync ignores aio_reqprio, aio_suspend with
// nothing listed returns 0, a NULL buffer is EFAULT, a bad descriptor is
// reported through aio_error, huge aio_suspend timeouts wait, aio_return
// before completion leaves errno alone, a request's signal is queued before
// aio_suspend returns for it — as glibc.
@Suite("AIOEdgeCase", .serialized, .tags(.cPrograms))
struct AIOEdgeCaseTests {
    @Test("edge cases answered as glibc answers them")
    func edgeCasesLikeGlibc() throws {
        let run = try aioCompareWithGlibc("aio_edge")
        #expect(run?.results["suspend_nent0"] == "0")
        #expect(run?.results["null_buffer"] == "0 -1 14")
        #expect(run?.results["bad_fd_read"] == "0 -1 9")
        #expect(run?.results["suspend_huge_timeout_0"] == "0 0 1")
        #expect(run?.results["suspend_huge_timeout_1"] == "0 0 1")
        #expect(run?.results["return_before_completion"] == "115 0 1 y")
        #expect(run?.results["signal_before_suspend_returns"] == "0")
    }
}
