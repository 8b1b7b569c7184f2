import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Testing

#if canImport(Glibc)
import Glibc
#endif


/// True if `fd` is readable now.
private func isReadable(_ fd: Int32) -> Bool {
    var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    return poll(&pfd, 1, 0) == 1
}

@Suite("Engine: completion wake-ups", .serialized, .tags(.concurrency))
struct CompletionWakeupTests {
    /// Regression (rtio-bench: a reaper asleep on the eventfd with completions
    /// pending, woken only by its poll timeout).
    ///
    /// A worker notifies the host after it posted a completion, so its
    /// notification can come late: after the host has already polled that
    /// completion out (`reap(rearm: false)`), in the middle of the
    /// host's re-arm. Here the test thread plays the worker and sends that late
    /// notification at each step of the re-arm. Whatever the step, the *next*
    /// completion's notification must still make the fd readable — with the
    /// first version (clear the flag, then read) a late notification between
    /// the two was swallowed by the read, the flag stayed set, and every later
    /// notification was skipped.
    @Test("a late notification at any step of the host's re-arm never silences the next one",
          arguments: EngineCore.RearmStep.allCases)
    func lateNotificationDuringRearm(step: EngineCore.RearmStep) throws {
        // Workers exist but get no work: only this thread notifies.
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        defer { engine.shutdown() }
        let core = engine.core
        let fd = core.eventFD
        // An earlier batch was notified (flag set, counter 1) and its
        // completions were polled out without re-arming.
        core.notifyHost()
        #expect(isReadable(fd))
        // The host re-arms before sleeping; the worker's late notification lands at `step`.
        core.rearmHostNotification { at in if at == step { core.notifyHost() } }
        // Whatever it left, one more re-arm by a host that wakes for it leaves a
        // clean state (no readable fd with nothing behind it forever).
        if isReadable(fd) { core.rearmHostNotification() }
        #expect(!isReadable(fd), "a re-armed host with nothing pending must be able to sleep")
        // The next completion must wake the host.
        core.notifyHost()
        #expect(isReadable(fd), "notification after a late one at \(step) was skipped: the host would never wake")
    }

    /// The winner of the flag has set it but not yet written when the host
    /// re-arms: the flag must stay set (its write is coming), and once that
    /// write lands one re-arm must leave a host that can sleep again.
    @Test("a notification still in flight during the re-arm wakes the host, once")
    func writeInFlightDuringRearm() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        defer { engine.shutdown() }
        let core = engine.core
        let fd = core.eventFD
        // A worker won the flag (flag set) and is about to write.
        let won = !core.hostNotified.pointee.exchange(true, ordering: .acquiringAndReleasing)
        #expect(won)
        core.rearmHostNotification()
        let stillSet = core.hostNotified.pointee.load(ordering: .acquiring)
        #expect(stillSet, "the winner's write is still coming")
        // Its write lands: the sleeping host wakes.
        var one: UInt64 = 1
        #expect(write(fd, &one, 8) == 8)
        #expect(isReadable(fd))
        // The woken host finds nothing and re-arms once: it can sleep again,
        // and the next notification wakes it.
        core.rearmHostNotification()
        #expect(!isReadable(fd), "a stale count would wake the host at every re-arm")
        core.notifyHost()
        #expect(isReadable(fd))
    }

    /// End to end through the engine: every completion of a worker wakes a
    /// host that re-arms and sleeps on the fd in between, 2 000 times in a row.
    @Test("a host sleeping on the eventfd is woken for every completion")
    func everyCompletionWakesTheHost() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1, spin: 20_000))
        defer { engine.shutdown() }
        let file = try TemporaryFile(size: 4096)
        var pfd = pollfd(fd: engine.completionFD.rawValue, events: Int16(POLLIN), revents: 0)
        var timeouts = 0
        for tag in 0..<scaled(2_000) {
            try engine.submit(.fsync(file.fd), tag: UInt64(tag))
            var got = 0
            while got == 0 {
                got = engine.reap { _ in }
                if got == 0 && poll(&pfd, 1, 2_000) == 0 { timeouts += 1 }
            }
        }
        #expect(timeouts == 0)
    }
}
