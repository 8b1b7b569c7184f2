import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif


// The POSIX AIO drop-in (librtio-aio.so, loaded with LD_PRELOAD): C programs
// compiled with `cc` during the test use glibc's <aio.h> and are run with the
// built library preloaded; fio's posixaio engine is run the same way.

private func aioLibrary() -> String? { cBuiltLibrary("librtio-aio.so") }

private func scratchDirectory() throws -> String {
    let dir = NSTemporaryDirectory() + "rtio-aio-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

private func compileDropInProgram(largeFile: Bool) throws -> String? {
    try cCompile(["\(cPackageRoot)/Tests/CPrograms/aio_dropin.c"], name: largeFile ? "aio_dropin64" : "aio_dropin32",
                 flags: (largeFile ? ["-D_FILE_OFFSET_BITS=64"] : []) + ["-lrt"])
}

private let fioPath = ["/usr/bin/fio", "/usr/local/bin/fio"].first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite("AIODropIn", .serialized, .tags(.cPrograms))
struct AIODropInTests {
    @Test("librtio-aio.so exports aio_* and lio_listio with their *64 twins")
    func exports() throws {
        guard let lib = aioLibrary() else { return }
        let nm = try cRun("/usr/bin/nm", ["-D", "--defined-only", lib])
        let names = ["aio_read", "aio_write", "aio_fsync", "aio_error", "aio_return", "aio_suspend", "aio_cancel", "lio_listio"]
        for name in names + names.map({ $0 + "64" }) + ["aio_init"] {
            #expect(nm.stdout.contains(" T \(name)\n"), "\(name) not exported")
        }
    }

    @Test("POSIX semantics from C, 32- and 64-bit names", arguments: [false, true])
    func semantics(largeFile: Bool) throws {
        guard let lib = aioLibrary(), let exe = try compileDropInProgram(largeFile: largeFile) else { return }
        defer { unlink(exe) }
        if largeFile {  // glibc redirected the calls to the *64 names
            let nm = try cRun("/usr/bin/nm", ["-u", exe])
            #expect(nm.stdout.contains("aio_read64") && nm.stdout.contains("lio_listio64"), "\(nm.stdout)")
        }
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try cRun(exe, [dir], environment: ["LD_PRELOAD": lib], timeout: 120)
        #expect(!r.timedOut)
        #expect(r.status == 0, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        #expect(r.stdout.hasSuffix("OK\n"))
        for check in [
            "engine threads are RealtimeIO's (preload active)", "data verified", "aio_return only once -> EINVAL",
            "negative offset -> EINVAL", "bad aio_reqprio -> EINVAL", "bad fd -> EBADF", "aio_error EINPROGRESS while running",
            "aio_cancel in flight -> AIO_NOTCANCELED", "aio_cancel finished -> AIO_ALLDONE", "aio_suspend timeout -> EAGAIN",
            "aio_suspend interrupted -> EINTR", "SIGEV_SIGNAL exactly once per request (si_code SI_ASYNCIO, sigev_value)",
            "SIGEV_THREAD exactly once per request, off the caller's thread", "SIGEV_THREAD_ID exactly once per request",
            "lio_listio(LIO_WAIT) all done on return, data written", "lio_listio(LIO_NOWAIT) data and one group signal",
            "O_APPEND writes in call order", "forked child completes I/O on its own engine",
        ] {
            #expect(r.stdout.contains("PASS \(check)\n"), "missing: \(check)")
        }
    }

    @Test("EAGAIN when every request slot is taken (RTIO_AIO_CONFIG with 4 slots)")
    func noFreeSlot() throws {
        guard let lib = aioLibrary(), let exe = try compileDropInProgram(largeFile: false) else { return }
        defer { unlink(exe) }
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/aio.json"
        try #"{"groups":[{"name":"aio","workers":1}],"ringCapacity":8,"requestsInFlight":4,"spinBudgetNanoseconds":0}"#
            .write(toFile: config, atomically: true, encoding: .utf8)
        let r = try cRun(exe, [dir, "eagain"], environment: ["LD_PRELOAD": lib, "RTIO_AIO_CONFIG": config])
        #expect(r.status == 0, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        #expect(r.stdout.contains("PASS no free slot -> EAGAIN\n"))
    }

    @Test("a bad RTIO_AIO_CONFIG is reported once on stderr; calls fail with EAGAIN")
    func badConfiguration() throws {
        guard let lib = aioLibrary(), let exe = try compileDropInProgram(largeFile: false) else { return }
        defer { unlink(exe) }
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #"{"groups":["#.write(toFile: dir + "/bad.json", atomically: true, encoding: .utf8)
        let r = try cRun(exe, [dir], environment: ["LD_PRELOAD": lib, "RTIO_AIO_CONFIG": dir + "/bad.json"])
        #expect(r.status == 1, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stderr.contains("rtio-aio: RTIO_AIO_CONFIG=\(dir)/bad.json: invalid configuration: <document>: not valid JSON"), "\(r.stderr)")
        #expect(r.stderr.contains("errno 11"), "\(r.stderr)")
    }

    @Test("fio ioengine=posixaio with the drop-in: write with verify=crc32c, randread IOPS")
    func fio() throws {
        let fio = try #require(fioPath, "fio is not installed (/usr/bin/fio or /usr/local/bin/fio): run tools/setup")
        guard let lib = aioLibrary() else { return }
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/fio.dat"
        let write = try cRun(fio, ["--name=w", "--ioengine=posixaio", "--rw=randwrite", "--bs=4k", "--size=32m", "--iodepth=8",
                                    "--filename=\(file)", "--verify=crc32c", "--do_verify=1", "--verify_state_save=0", "--output-format=json"],
                             environment: ["LD_PRELOAD": lib], timeout: 300)
        #expect(write.status == 0, "stdout:\n\(write.stdout)\nstderr:\n\(write.stderr)")
        #expect(!write.stdout.contains("verify: bad"), "\(write.stdout)")
        let read = try cRun(fio, ["--name=r", "--ioengine=posixaio", "--rw=randread", "--bs=4k", "--size=32m", "--iodepth=8",
                                   "--filename=\(file)", "--time_based", "--runtime=2", "--output-format=json"],
                            environment: ["LD_PRELOAD": lib], timeout: 300)
        #expect(read.status == 0, "\(read.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: Any]
        let job = (json?["jobs"] as? [[String: Any]])?.first
        let iops = (job?["read"] as? [String: Any])?["iops"] as? Double ?? 0
        print("fio randread 4k iodepth 8 through librtio-aio.so: \(Int(iops)) IOPS")
        #expect(iops > 1000, "\(read.stdout)")
        // The preload really serves fio: RTIO_AIO_VERBOSE makes it announce each engine start.
        let announced = try cRun(fio, ["--name=v", "--ioengine=posixaio", "--rw=read", "--bs=4k", "--size=1m", "--filename=\(file)"],
                                 environment: ["LD_PRELOAD": lib, "RTIO_AIO_VERBOSE": "1"], timeout: 120)
        #expect(announced.status == 0)
        #expect(announced.stderr.contains("rtio-aio: engine started"), "\(announced.stderr)")
    }
}
