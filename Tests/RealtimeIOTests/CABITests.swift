import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Compiles a program from Tests/CPrograms against librealtimeio.so.
private func compileAgainstLibrary(_ program: String) throws -> String? {
    guard cBuiltLibrary("librealtimeio.so") != nil else { return nil }
    let dir = cProductsDirectory()
    return try cCompile(
        ["\(cPackageRoot)/Tests/CPrograms/\(program).c"], name: program,
        flags: ["-I\(cPackageRoot)/Sources/RealtimeIOC/include", "-L\(dir)", "-lrealtimeio", "-Wl,-rpath,\(dir)", "-lpthread"])
}

@Suite("CABI", .serialized, .tags(.cPrograms))
struct CABITests {
    @Test("realtimeio.h compiles standalone as strict C11 and as C++")
    func headerCompiles() throws {
        let dir = NSTemporaryDirectory() + "rtio-hdr-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "#include <realtimeio.h>\nint main(void) { return sizeof(struct rtio_completion) == 24 ? 0 : 1; }\n"
            .write(toFile: dir + "/h.c", atomically: true, encoding: .utf8)
        let include = "-I\(cPackageRoot)/Sources/RealtimeIOC/include"
        let c = try cRun("/usr/bin/cc", ["-std=c11", "-pedantic", "-Wall", "-Wextra", "-Werror", include, "-c", dir + "/h.c", "-o", dir + "/h.o"])
        #expect(c.status == 0, "\(c.stderr)")
        let cpp = try cRun("/usr/bin/c++", ["-x", "c++", "-std=c++11", "-Wall", "-Wextra", "-Werror", include, "-c", dir + "/h.c", "-o", dir + "/hpp.o"])
        #expect(cpp.status == 0, "\(cpp.stderr)")
    }

    @Test("librealtimeio.so exports every function of realtimeio.h")
    func exportedSymbols() throws {
        guard let lib = cBuiltLibrary("librealtimeio.so") else { return }
        let header = try String(contentsOfFile: "\(cPackageRoot)/Sources/RealtimeIOC/include/realtimeio.h", encoding: .utf8)
        // Declarations: lines "int rtio_x(" / "void rtio_x(" at the start of a line.
        let declared = Set(header.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("int rtio_") || line.hasPrefix("void rtio_") else { return nil }
            let name = line.drop { $0 != " " }.dropFirst().prefix { $0 != "(" }
            return String(name)
        })
        #expect(declared.count == 26 && declared.contains("rtio_submit_batch_h") && declared.contains("rtio_cancel"), "declared: \(declared.sorted())")
        let nm = try cRun("/usr/bin/nm", ["-D", "--defined-only", lib])
        let exported = Set(nm.stdout.split(separator: "\n").compactMap { line -> String? in
            let f = line.split(separator: " ")
            return f.count == 3 && f[1] == "T" ? String(f[2]) : nil
        })
        for name in declared.sorted() { #expect(exported.contains(name), "\(name) not exported by \(lib)") }
    }

    @Test("host_example.c (the README example): create from JSON, write, fdatasync, read back, verify")
    func hostExample() throws {
        guard let exe = try compileAgainstLibrary("host_example") else { return }
        defer { unlink(exe) }
        let file = NSTemporaryDirectory() + "rtio-hostexample-\(getpid()).dat"
        let r = try cRun(exe, [file])
        #expect(!r.timedOut)
        #expect(r.status == 0, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        #expect(r.stdout.contains("OK 64 blocks verified"), "\(r.stdout)")
        #expect(r.stdout.contains("worker 0 rtio-io-0 tid"), "\(r.stdout)")
    }

    @Test("rtio_cancel and rtio_serve_here: queued reads behind a worker stuck in a read are cancelled or served at once; running, done, stale, bad handles")
    func cancel() throws {
        guard let exe = try compileAgainstLibrary("c_cancel") else { return }
        defer { unlink(exe) }
        let r = try cRun(exe)
        #expect(!r.timedOut)
        #expect(r.status == 0, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        #expect(r.stdout.hasSuffix("OK\n"), "\(r.stdout)")
        for check in ["the worker is blocked in the read (fault event)", "cancel queued -> RTIO_CANCELED",
                      "both -ECANCELED completions reaped while the worker is stuck", "cancelled requests never ran",
                      "stale handles -> RTIO_ALLDONE", "bad handles -> -EINVAL",
                      "serve a queued read here -> RTIO_SERVED", "its bytes are there when rtio_serve_here returns",
                      "the served read's completion reaped while the worker is stuck", "serve: bad handles -> -EINVAL"] {
            #expect(r.stdout.contains("PASS \(check)\n"), "missing: \(check)")
        }
    }

    @Test("error paths: bad JSON message, EBADF completion, -EINVAL ranges, -EAGAIN full, -ESHUTDOWN, cancel")
    func errorPaths() throws {
        guard let exe = try compileAgainstLibrary("c_abi_errors") else { return }
        defer { unlink(exe) }
        let r = try cRun(exe)
        #expect(!r.timedOut)
        #expect(r.status == 0, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        #expect(r.stdout.hasSuffix("OK\n"), "\(r.stdout)")
        for check in ["malformed JSON -> -EINVAL", "bad fd -> EBADF completion", "negative offset -> -EINVAL",
                      "full -> -EAGAIN", "after shutdown -> -ESHUTDOWN", "every request completed once; queued ones cancelled"] {
            #expect(r.stdout.contains("PASS \(check)\n"), "missing: \(check)")
        }
    }

    @Test("rtio_submit_batch: all or nothing, each request once, errors naming the request")
    func batchSubmit() throws {
        guard let exe = try compileAgainstLibrary("batch_submit") else { return }
        defer { unlink(exe) }
        let r = try cRun(exe)
        #expect(!r.timedOut)
        #expect(r.status == 0, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        #expect(r.stdout.hasSuffix("OK\n"), "\(r.stdout)")
        for check in ["each readv read back its block", "unknown opcode -> -EINVAL naming it", "refused batches queued nothing",
                      "no free slot -> -EAGAIN, no index", "after shutdown -> -ESHUTDOWN"] {
            #expect(r.stdout.contains("PASS \(check)\n"), "missing: \(check)")
        }
    }

    /// A seccomp filter refuses io_uring_setup (as container profiles do): a
    /// group with `inFlight` degrades to one request at a time under
    /// bestEffort, reported and still serving; `required` fails with -EPERM.
    @Test("inFlight where io_uring is refused: reported degradation, or -EPERM under required")
    func inFlightWithoutIOUring() throws {
        guard let exe = try compileAgainstLibrary("inflight_seccomp") else { return }
        defer { unlink(exe) }
        let r = try cRun(exe)
        #expect(!r.timedOut)
        #expect(r.status == 0, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        #expect(r.stdout.hasSuffix("OK\n"), "\(r.stdout)")
        for check in ["io_uring_setup refused", "bestEffort: degradation names the worker, the depth and io_uring",
                      "read completed one at a time with its bytes", "required: -EPERM naming io_uring"] {
            #expect(r.stdout.contains("PASS \(check)\n"), "missing: \(check)")
        }
    }
}
