import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif


// The POSIX AIO drop-in (librtio-aio.so, loaded with LD_PRELOAD): exports and
// the broad semantics program Tests/CPrograms/aio_dropin.c (drop-in specific:
// it checks that the engine's threads serve the calls). Behaviour compared
// with glibc lives in the other AIO*Tests suites.

private func compileDropInProgram(largeFile: Bool) throws -> String? {
    try cCompile(["\(cPackageRoot)/Tests/CPrograms/aio_dropin.c"], name: largeFile ? "aio_dropin64" : "aio_dropin32",
                 flags: (largeFile ? ["-D_FILE_OFFSET_BITS=64"] : []) + ["-lrt"])
}

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
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try cRun(exe, [dir], environment: ["LD_PRELOAD": lib], timeout: 120)
        #expect(!r.timedOut)
        #expect(r.status == 0, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        #expect(r.stdout.hasSuffix("OK\n"))
        for check in [
            "engine threads are RealtimeIO's (preload active)", "data verified", "aio_return only once -> EINVAL",
            "negative offset -> EINVAL", "bad aio_reqprio -> EINVAL", "bad fd -> EBADF", "write on O_RDONLY -> EBADF", "aio_fsync bad fd -> EBADF", "aio_error EINPROGRESS while running",
            "aio_cancel right after submit -> AIO_CANCELED or AIO_NOTCANCELED", "aio_cancel finished -> AIO_ALLDONE", "aio_suspend timeout -> EAGAIN",
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
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/aio.json"
        try #"{"groups":[{"name":"aio","workers":1}],"ringCapacity":8,"requestsInFlight":4,"spinBudgetNanoseconds":0}"#
            .write(toFile: config, atomically: true, encoding: .utf8)
        let r = try cRun(exe, [dir, "eagain"], environment: ["LD_PRELOAD": lib, "RTIO_AIO_CONFIG": config])
        #expect(r.status == 0, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        #expect(r.stdout.contains("PASS no free slot -> EAGAIN\n"))
    }
}
