import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// RTIO_AIO_CONFIG under the drop-in: every valid configuration works
// (on-demand and hybrid included: their workers come from the engine's
// spawner thread), a bad one is refused at start once, with a clear message,
// and every call then fails with EAGAIN without trying again.
@Suite("AIOConfiguration", .serialized, .tags(.cPrograms))
struct AIOConfigurationTests {
    @Test("a bad RTIO_AIO_CONFIG is reported once on stderr; calls fail with EAGAIN and never start the engine again")
    func badConfigurationRefusedOnce() throws {
        guard let exe = try aioCompile("aio_config") else { return }
        defer { unlink(exe) }
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try aioWriteConfiguration(#"{"groups":["#, in: dir)
        let good = try aioWriteConfiguration(#"{"groups":[{"name":"aio","workers":1}]}"#, in: dir, name: "good.json")
        guard let run = try aioRun(exe, [dir, good, config], dropIn: true, environment: ["RTIO_AIO_CONFIG": config]) else { return }
        #expect(run.completed, "\(run.transcript)")
        #expect(run.results["first_call"] == "-1 11")
        #expect(run.results["later_calls"] == "-1 11")  // the good file now in place is not read
        #expect(run.results["lio_listio"] == "-1 11")
        let messages = run.process.stderr.components(separatedBy: "rtio-aio:").count - 1
        #expect(messages == 1, "\(run.process.stderr)")
        #expect(run.process.stderr.contains("rtio-aio: RTIO_AIO_CONFIG=\(config): invalid configuration: <document>: not valid JSON"),
                "\(run.process.stderr)")
        #expect(run.process.stderr.contains("fails with EAGAIN"), "\(run.process.stderr)")
    }

    @Test("a read error on RTIO_AIO_CONFIG is reported as one, not parsed as a short file")
    func readErrorIsNotEndOfFile() throws {
        guard let exe = try aioCompile("aio_config") else { return }
        defer { unlink(exe) }
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = try aioWriteConfiguration(#"{"groups":[{"name":"aio","workers":1}]}"#, in: dir, name: "good.json")
        // A directory opens O_RDONLY but read(2) fails with EISDIR.
        let config = dir + "/config.d"
        try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
        guard let run = try aioRun(exe, [dir, good, dir + "/renamed.json"], dropIn: true, environment: ["RTIO_AIO_CONFIG": config])
        else { return }
        #expect(run.results["first_call"] == "-1 11", "\(run.transcript)")
        #expect(run.process.stderr.contains("RTIO_AIO_CONFIG=\(config): cannot read: "), "\(run.process.stderr)")
        #expect(!run.process.stderr.contains("not valid JSON"), "\(run.process.stderr)")
    }

    @Test("an invalid \"aio\" section, or inFlight for the drop-in's workers, names the field")
    func invalidDropInSection() throws {
        guard let exe = try aioCompile("aio_config") else { return }
        defer { unlink(exe) }
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = try aioWriteConfiguration(#"{"groups":[{"name":"aio","workers":1}]}"#, in: dir, name: "good.json")
        for (json, field) in [(#"{"groups":[{"name":"aio","workers":1}],"aio":{"ordering":"sideways"}}"#, "aio"),
                              (#"{"groups":[{"name":"aio","workers":1}],"aio":{"notifierThreads":0}}"#, "aio.notifierThreads"),
                              (#"{"groups":[{"name":"aio","workers":1,"inFlight":8}]}"#, "groups[0].inFlight")] {
            let config = try aioWriteConfiguration(json, in: dir, name: "bad.json")
            guard let run = try aioRun(exe, [dir, good, dir + "/renamed.json"], dropIn: true, environment: ["RTIO_AIO_CONFIG": config])
            else { return }
            #expect(run.results["first_call"] == "-1 11", "\(run.transcript)")
            #expect(run.process.stderr.contains("RTIO_AIO_CONFIG=\(config): invalid configuration: \(field):"), "\(run.process.stderr)")
            try FileManager.default.copyItem(atPath: dir + "/renamed.json", toPath: good)
        }
    }

    @Test("on-demand configuration (no preallocated worker): ordering, streams and lio_listio as glibc",
          arguments: ["aio_order", "aio_streams", "aio_listio", "aio_edge"])
    func onDemand(program: String) throws {
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try aioWriteConfiguration(#"{"groups":[],"onDemand":{"maxThreads":4,"spawner":"hostLoop"}}"#, in: dir)
        try aioCompareWithGlibc(program, dropInEnvironment: ["RTIO_AIO_CONFIG": config])
    }

    @Test("hybrid configuration with the default spawner: reads that overflow a full ring complete",
          arguments: [#""perDescriptor""#, #""spreadReads""#])
    func hybrid(ordering: String) throws {
        guard let exe = try aioCompile("aio_order") else { return }
        defer { unlink(exe) }
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try aioWriteConfiguration(
            #"{"groups":[{"name":"aio","workers":1}],"ringCapacity":4,"requestsInFlight":128,"onDemand":{"overflow":true},"aio":{"ordering":\#(ordering)}}"#,
            in: dir)
        guard let run = try aioRun(exe, [dir, "200"], dropIn: true, environment: ["RTIO_AIO_CONFIG": config, "RTIO_AIO_VERBOSE": "1"])
        else { return }
        #expect(run.completed, "\(run.transcript)")
        #expect(run.process.stderr.contains("mode hybrid"), "\(run.process.stderr)")
        #expect(run.results["failed_pairs"] == "0")
        #expect(run.results["parallel_reads_failed"] == "0")
    }
}
