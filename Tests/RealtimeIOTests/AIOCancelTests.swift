import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Tests/CPrograms/aio_cancel.c: aio_cancel withdraws requests still queued
// (AIO_CANCELED, ECANCELED, notification delivered), not the running one
// (AIO_NOTCANCELED), and reports finished ones AIO_ALLDONE — as glibc does.
@Suite("AIOCancel", .serialized, .tags(.cPrograms))
struct AIOCancelTests {
    @Test("cancel of queued vs running requests, one aiocb or all of a descriptor's, as glibc")
    func cancelLikeGlibc() throws {
        let run = try aioCompareWithGlibc("aio_cancel")
        #expect(run?.results["cancel_queued"] == "AIO_CANCELED")
        #expect(run?.results["cancelled_error_return"] == "125 -1")  // ECANCELED, -1
        #expect(run?.results["cancelled_notified"] == "1")
        #expect(run?.results["cancel_running"] == "AIO_NOTCANCELED")
        #expect(run?.results["cancel_fd"] == "AIO_NOTCANCELED")
        #expect(run?.results["fd_cancelled_count"] == "7")
        #expect(run?.results["notifications"] == "9")
    }

    /// A stream request its worker has dequeued but not yet handed to the
    /// stream threads looks running to the engine; glibc would find it queued.
    /// The worker is made to pause 500 ms in that hand-over (test-only fault
    /// injection), so `aio_cancel(fd, NULL)` meets one request in transit:
    /// it must be withdrawn like the queued ones, and the results equal glibc's.
    @Test("aio_cancel withdraws a stream request in transit to the stream threads, as glibc finds it queued")
    func cancelInTransit() throws {
        let run = try aioCompareWithGlibc("aio_cancel", dropInEnvironment: ["RTIO_AIO_TEST_HANDOFF_DELAY_US": "500000"])
        #expect(run?.results["cancel_queued"] == "AIO_CANCELED")
        #expect(run?.results["fd_cancelled_count"] == "7")
    }

    @Test("cancel in on-demand mode: requests chained behind the running one are withdrawn")
    func cancelOnDemand() throws {
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try aioWriteConfiguration(#"{"groups":[],"onDemand":{"maxThreads":4}}"#, in: dir)
        try aioCompareWithGlibc("aio_cancel", dropInEnvironment: ["RTIO_AIO_CONFIG": config])
    }
}
