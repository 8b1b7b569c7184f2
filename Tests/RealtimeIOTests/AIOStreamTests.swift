import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Tests/CPrograms/aio_streams.c: pipes, socket pairs and FIFOs go through
// read/write after pread/pwrite failed with ESPIPE, one stream's requests in
// submission order — the same answers as glibc's.
@Suite("AIOStream", .serialized, .tags(.cPrograms))
struct AIOStreamTests {
    @Test("pipe, socket and FIFO AIO as glibc: data, submission order, EOF, EPIPE")
    func streamsLikeGlibc() throws {
        let run = try aioCompareWithGlibc("aio_streams")
        #expect(run?.results["socket_reads_in_order"] == "1")
        #expect(run?.results["pipe_read_bytes"] == "1024")
    }

    @Test("one worker: a read blocked on a stream holds back neither its other end nor a file")
    func streamsOnOneWorker() throws {
        // Every descriptor maps to the one worker: before stream threads, the
        // socket pair's reads blocked it and the write behind them never ran.
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try aioWriteConfiguration(#"{"groups":[{"name":"aio","workers":1}]}"#, in: dir)
        let run = try aioCompareWithGlibc("aio_streams", dropInEnvironment: ["RTIO_AIO_CONFIG": config])
        #expect(run?.results["file_read_beside_blocked_pipe"] == "4 \(EINPROGRESS)")
        #expect(run?.results["blocked_pipe_read_then"] == "4")
    }

    @Test("a stream's reads stay ordered in spreadReads mode")
    func streamsOrderedWhenSpreading() throws {
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try aioWriteConfiguration(#"{"groups":[{"name":"aio","workers":4}],"aio":{"ordering":"spreadReads"}}"#, in: dir)
        try aioCompareWithGlibc("aio_streams", dropInEnvironment: ["RTIO_AIO_CONFIG": config])
    }

    @Test("streams in on-demand mode: descriptor chains keep the order, a blocked read does not hold back the writer")
    func streamsOnDemand() throws {
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try aioWriteConfiguration(#"{"groups":[],"onDemand":{"maxThreads":4}}"#, in: dir)
        try aioCompareWithGlibc("aio_streams", dropInEnvironment: ["RTIO_AIO_CONFIG": config])
    }
}
