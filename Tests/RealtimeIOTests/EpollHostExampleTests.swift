import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Examples/c-epoll/epoll_host.c: a C host's own epoll loop.
@Suite("EpollHostExample", .tags(.cPrograms))
struct EpollHostExampleTests {
    @Test("epoll_host.c: waves submitted from an epoll loop, every completion reaped exactly once, bytes verified")
    func epollHost() throws {
        let library = try #require(cBuiltLibrary("librealtimeio.so"), "run `swift build --build-tests` (tools/setup installs cc)")
        _ = library
        let dir = cProductsDirectory()
        let exe = try #require(try cCompile(
            ["\(cPackageRoot)/Examples/c-epoll/epoll_host.c"], name: "epoll_host",
            flags: ["-I\(cPackageRoot)/Sources/RealtimeIOC/include", "-L\(dir)", "-lrealtimeio", "-Wl,-rpath,\(dir)", "-lpthread"]))
        defer { unlink(exe) }
        let file = NSTemporaryDirectory() + "rtio-epoll-\(getpid()).dat"
        let r = try cRun(exe, [file])
        #expect(!r.timedOut)
        #expect(r.status == 0, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
        #expect(r.stdout.contains("OK 512 completions, each exactly once"), "\(r.stdout)")
    }
}
