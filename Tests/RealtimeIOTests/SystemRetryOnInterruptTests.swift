import CRealtimeIOShims
import Foundation
import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Deliveries of the test's no-op handler (async-signal-safe: one atomic add).
private let interruptHandlerCalls = Atomic<Int>(0)

/// The `read` system call number, as /proc/TID/syscall prints it.
#if arch(x86_64)
private let readSyscallNumber = 0
#elseif arch(arm64)
private let readSyscallNumber = 63
#endif

/// Whether thread `tid` of this process sleeps inside read(2) on `fd`: state `S`
/// in its stat line and `read` with `fd` as the first argument in /proc/…/syscall.
private func isBlockedInRead(tid: Int32, fd: Int32) -> Bool {
    guard ThreadStat.read(tid: tid)?.state == "S",
          let syscall = try? KernelFile.contents(of: "/proc/self/task/\(tid)/syscall") else { return false }
    let fields = syscall.split(separator: " ")
    guard fields.count >= 2, Int(fields[0]) == readSyscallNumber else { return false }
    return Int32(fields[1].dropFirst(2), radix: 16) == fd
}

@Suite("System: EINTR retry", .serialized)
struct SystemRetryOnInterruptTests {
    /// A blocking pipe read interrupted by a handled signal (installed without
    /// SA_RESTART, so the kernel fails the read with EINTR) is retried until data
    /// arrives. Each signal is sent only once the reader is seen asleep in read(2),
    /// and the next one only after the retry is asleep again: every delivery
    /// interrupts exactly one read.
    @Test func retriesAReadInterruptedByASignal() throws {
        let interruptions = 3
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in interruptHandlerCalls.add(1, ordering: .relaxed) }
        action.sa_flags = 0  // no SA_RESTART
        sigemptyset(&action.sa_mask)
        var previous = sigaction()
        try #require(sigaction(SIGUSR2, &action, &previous) == 0)
        defer { sigaction(SIGUSR2, &previous, nil) }
        interruptHandlerCalls.store(0, ordering: .relaxed)

        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let readEnd = fds[0]

        let tid = SharedCounter()
        let attempts = SharedCounter()
        let result = Mutex<Result<Int, Errno>?>(nil)
        let reader = try NativeThread.spawn(attributes: ThreadAttributes(name: "eintr-reader")) {
            var unblock = sigset_t()
            sigemptyset(&unblock)
            sigaddset(&unblock, SIGUSR2)
            pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
            tid.store(Int(rtio_gettid()))
            var byte: UInt8 = 0
            let outcome = retryOnInterrupt { () -> Int in
                attempts.add(1)
                return read(readEnd, &byte, 1)
            }
            result.withLock { $0 = outcome }
        }
        var joined = false
        defer {
            if !joined {
                var byte: UInt8 = 1
                _ = write(fds[1], &byte, 1)
                reader.join()
            }
        }
        try #require(waitUntil(seconds: 10) { tid.value != 0 })
        let readerTID = Int32(tid.value)

        for sent in 0..<interruptions {
            try #require(waitUntil(seconds: 10) { attempts.value == sent + 1 && isBlockedInRead(tid: readerTID, fd: readEnd) },
                         "reader not asleep in read(2) before signal \(sent + 1) (attempts \(attempts.value), result \(String(describing: result.withLock { $0 })))")
            try #require(pthread_kill(reader.handle, SIGUSR2) == 0)
            try #require(waitUntil(seconds: 10) { interruptHandlerCalls.load(ordering: .relaxed) == sent + 1 })
        }
        try #require(waitUntil(seconds: 10) { attempts.value == interruptions + 1 && isBlockedInRead(tid: readerTID, fd: readEnd) })
        var byte: UInt8 = 42
        #expect(write(fds[1], &byte, 1) == 1)
        reader.join()
        joined = true

        #expect(interruptHandlerCalls.load(ordering: .relaxed) == interruptions)
        #expect(attempts.value == interruptions + 1)
        #expect(result.withLock { $0 } == .success(1))
    }

    @Test func returnsOtherErrorsAndNegatedErrnoResults() {
        #expect(retryOnInterrupt { close(-1) } == .failure(.badFileDescriptor))
        var calls = 0
        let outcome = retryOnInterruptNegatedErrno({ () -> Int32 in
            calls += 1
            return calls < 3 ? -EINTR : 7
        })
        #expect(outcome == .success(7))
        #expect(calls == 3)
        #expect(retryOnInterruptNegatedErrno({ -EAGAIN }) == .failure(.resourceTemporarilyUnavailable))
    }

    /// On a thread of our own with an empty mask (the test's own thread may be a
    /// dispatch worker, which blocks most signals).
    @Test func signalMaskBlocksAllAndRestores() throws {
        let observed = Mutex<[Bool]>([])
        let thread = try NativeThread.spawn(attributes: ThreadAttributes(name: "sigmask")) {
            var empty = sigset_t()
            sigemptyset(&empty)
            pthread_sigmask(SIG_SETMASK, &empty, nil)
            let before = SignalMask.isBlocked(SIGUSR2)
            let inside = SignalMask.withAllBlocked { SignalMask.isBlocked(SIGUSR2) && SignalMask.isBlocked(SIGTERM) }
            let after = SignalMask.isBlocked(SIGUSR2)
            SignalMask.blockAll()
            let blockedForGood = SignalMask.isBlocked(SIGUSR2)
            observed.withLock { $0 = [before, inside, after, blockedForGood] }
        }
        thread.join()
        #expect(observed.withLock { $0 } == [false, true, false, true])
    }

    @Test func eventFDCountsAndResets() throws {
        let event = try EventFD()
        defer { event.close() }
        #expect(try event.read() == nil)
        try event.write(2)
        try event.write(3)
        #expect(try event.read() == 5)
        #expect(try event.read() == nil)
    }
}
