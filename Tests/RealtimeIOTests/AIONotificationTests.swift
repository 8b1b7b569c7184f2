import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Tests/CPrograms/aio_notify_flood.c: SIGEV_THREAD notifications are never
// lost — a notification's slot is held until its function returned, several
// notifier threads run the functions.
@Suite("AIONotification", .serialized, .tags(.cPrograms))
struct AIONotificationTests {
    @Test("10 000 SIGEV_THREAD notifications, 256 in flight, 200 µs functions: exactly 10 000; a blocking function holds back no other")
    func floodExactlyOnce() throws {
        let run = try aioCompareWithGlibc("aio_notify_flood")
        #expect(run?.results["flood_notifications"] == "10000")
        #expect(run?.results["flood_each_exactly_once"] == "1")
        #expect(run?.results["blocking_function_did_not_hold_back_others"] == "1")
    }

    @Test("with one notifier thread a blocking function delays the others but loses none")
    func oneNotifierThread() throws {
        guard let exe = try aioCompile("aio_notify_flood") else { return }
        defer { unlink(exe) }
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try aioWriteConfiguration(#"{"groups":[{"name":"aio","workers":2}],"aio":{"notifierThreads":1}}"#, in: dir)
        guard let run = try aioRun(exe, [dir], dropIn: true, environment: ["RTIO_AIO_CONFIG": config, "AIO_FLOOD_BLOCK_MS": "1000"])
        else { return }
        #expect(run.completed, "\(run.transcript)")
        #expect(run.results["flood_notifications"] == "10000")
        #expect(run.results["flood_each_exactly_once"] == "1")
        // The blocker waits (bounded, 1 s here) for functions queued behind it on the only thread: it
        // gives up (-1), then every one of them runs.
        #expect(run.results["blocking_function_did_not_hold_back_others"] == "-1")
        #expect(run.results["round2_functions"] == "63")
    }
}
