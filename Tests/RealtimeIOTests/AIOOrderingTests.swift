import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Tests/CPrograms/aio_order.c: an aio_read issued right after an aio_write of
// the same block sees the new data (per-descriptor order, the default); the
// spreadReads mode trades that for parallel reads.
@Suite("AIOOrdering", .serialized, .tags(.cPrograms))
struct AIOOrderingTests {
    @Test("write then read of one block, 2 000 pairs: no stale read, as glibc")
    func writeThenReadInOrder() throws {
        let run = try aioCompareWithGlibc("aio_order", arguments: ["2000"])
        #expect(run?.results["stale_reads"] == "0")
    }

    @Test("spreadReads mode: reads run in parallel and return the file's data")
    func spreadReads() throws {
        guard let exe = try aioCompile("aio_order") else { return }
        defer { unlink(exe) }
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try aioWriteConfiguration(#"{"groups":[{"name":"aio","workers":4}],"aio":{"ordering":"spreadReads"}}"#, in: dir)
        guard let run = try aioRun(exe, [dir, "500"], dropIn: true, environment: ["RTIO_AIO_CONFIG": config, "RTIO_AIO_VERBOSE": "1"])
        else { return }
        #expect(run.completed, "\(run.transcript)")
        #expect(run.process.stderr.contains("ordering spreadReads"), "\(run.process.stderr)")
        #expect(run.results["failed_pairs"] == "0")
        #expect(run.results["parallel_reads_failed"] == "0")
    }
}
