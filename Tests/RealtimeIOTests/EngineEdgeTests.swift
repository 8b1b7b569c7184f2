@testable import RealtimeIOLinux
import CRealtimeIOShims
import Foundation
import Synchronization
import SystemPackage
import Testing
@testable import RealtimeIO

/// A blocking custom call: marks itself running, then waits until released.
/// Context: a `Gate` (two atomics).
struct Gate: ~Copyable {
    let running = Atomic<Bool>(false)
    let released = Atomic<Bool>(false)
    let finished = Atomic<Bool>(false)
}

private let gatedCall: CustomBlockingCall = { context in
    let gate = context!.assumingMemoryBound(to: Gate.self)
    gate.pointee.running.store(true, ordering: .releasing)
    while !gate.pointee.released.load(ordering: .acquiring) { usleep(50) }
    gate.pointee.finished.store(true, ordering: .releasing)
    return 7
}

/// The one-letter state of a thread of this process (`R`, `S`, `D`, …).
private func threadState(_ tid: pid_t) -> Character? { ThreadStat.read(tid: tid)?.state }

@Suite("Engine: edges of completion notice and shutdown", .serialized, .tags(.concurrency, .needsRoot))
struct EngineEdgeTests {
    /// A read queued before a call that blocks: the host, asleep in poll, sees
    /// the read's completion while the blocker still runs (not when the batch ends).
    @Test("a completion is announced when its request finishes, not when its batch does")
    func promptNotice() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        let file = try TemporaryFile(size: 4096, readOnly: true)
        let gates = UnsafeMutablePointer<Gate>.allocate(capacity: 2)
        gates.initialize(to: Gate())
        (gates + 1).initialize(to: Gate())
        defer {
            gates.pointee.released.store(true, ordering: .releasing)
            gates[1].released.store(true, ordering: .releasing)
            engine.shutdown()
            gates.deinitialize(count: 2)
            gates.deallocate()
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
        defer { buffer.deallocate() }
        // The worker is held by the first gate, so the read and the blocker
        // queue behind it and are taken in one batch.
        try engine.submit(.custom(gatedCall, context: UnsafeMutableRawPointer(gates)), tag: 1)
        let firstRunning = waitUntil(seconds: 5) { gates.pointee.running.load(ordering: .acquiring) }
        #expect(firstRunning)
        try engine.submit(.read(file.fd, into: buffer, at: 8), tag: 2)
        try engine.submit(.custom(gatedCall, context: UnsafeMutableRawPointer(gates + 1)), tag: 3)
        var seen: [UInt64] = []
        engine.reap { seen.append($0.tag) }  // re-arms: the host now sleeps on the fd
        gates.pointee.released.store(true, ordering: .releasing)
        // Sleep on the eventfd only (a timeout is a missed announcement), as a host does.
        var pfd = pollfd(fd: engine.completionFD.rawValue, events: Int16(POLLIN), revents: 0)
        var rounds = 0
        while !seen.contains(2) && rounds < 4 {
            let ready = poll(&pfd, 1, 5000)
            #expect(ready == 1, "no announcement within 5 s (round \(rounds), seen \(seen))")
            if ready != 1 { break }
            engine.reap { seen.append($0.tag) }
            rounds += 1
        }
        #expect(seen.contains(2), "the read's completion was not announced while the blocker ran")
        let blockerFinished = gates[1].finished.load(ordering: .acquiring)
        #expect(!blockerFinished, "the blocker must still run when the read is seen")
        #expect(buffer.load(as: UInt64.self) == 8)
    }

    /// The eventfd lives as long as the engine: a descriptor opened after
    /// shutdown never gets its number, and reap never reads another descriptor.
    @Test("reap after or during shutdown never touches a recycled descriptor")
    func reapAfterShutdown() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 2))
        let eventFD = engine.completionFD.rawValue
        let reaper = SharedFlag()
        let reaps = SharedCounter()
        let thread = startThread {
            while !reaper.isSet { engine.reap { _ in }; reaps.add() }
        }
        #expect(waitUntil(seconds: 5) { reaps.value > 10 })
        engine.shutdown()
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(!fds.contains(eventFD), "a new descriptor got the engine's eventfd number")
        var byte: UInt8 = 42
        #expect(write(fds[1], &byte, 1) == 1)
        let before = reaps.value
        #expect(waitUntil(seconds: 5) { reaps.value > before + 10 })
        reaper.set()
        thread.join()
        var available: Int32 = 0
        #expect(ioctl(fds[0], UInt(FIONREAD), &available) == 0 && available == 1, "the pipe's byte was read by reap")
    }

    /// A second shutdown that finds the first in progress returns only after
    /// every worker has exited (here: after a running request finished).
    @Test("a concurrent second shutdown returns only after all workers exited")
    func secondShutdownWaits() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        let gate = UnsafeMutablePointer<Gate>.allocate(capacity: 1)
        gate.initialize(to: Gate())
        defer { gate.deinitialize(count: 1); gate.deallocate() }
        let g = SendablePointer(gate)
        try engine.submit(.custom(gatedCall, context: UnsafeMutableRawPointer(gate)), tag: 1)
        let running = waitUntil(seconds: 5) { gate.pointee.running.load(ordering: .acquiring) }
        #expect(running)
        let first = startThread { engine.shutdown(.drain) }
        let stopping = waitUntil(seconds: 5) { engine.core.lifecycle.pointee.load(ordering: .acquiring) != .running }
        #expect(stopping)
        let secondReturned = SharedFlag()
        let workerDoneWhenSecondReturned = SharedFlag()
        let secondTID = SharedCounter()
        let second = startThread {
            secondTID.store(Int(rtio_gettid()))
            engine.shutdown(.cancel)
            if g.pointee.pointee.finished.load(ordering: .acquiring) { workerDoneWhenSecondReturned.set() }
            secondReturned.set()
        }
        // The second call either returned (the bug) or sleeps waiting for the first.
        #expect(waitUntil(seconds: 5) {
            secondReturned.isSet || (secondTID.value != 0 && threadState(pid_t(secondTID.value)) == "S")
        })
        #expect(!secondReturned.isSet, "the second shutdown returned while a worker still ran")
        gate.pointee.released.store(true, ordering: .releasing)
        first.join()
        second.join()
        #expect(workerDoneWhenSecondReturned.isSet)
        #expect(engine.workerSnapshots().allSatisfy { $0.state == "exited" })
    }

    /// A SCHED_FIFO shutdown on CPU 0 while a SCHED_OTHER submitter on CPU 0
    /// is inside the submit gate: the shutdown sleeps (uses next to no CPU)
    /// and the submitter runs to its exit. A yield-spin would burn the CPU
    /// until the kernel's RT throttle stopped it.
    @Test("shutdown from SCHED_FIFO sleeps while a preempted lower-priority submitter leaves the gate")
    func fifoShutdownLetsSubmitterLeave() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        let inside = SharedFlag()
        let left = SharedFlag()
        let submitterWork: UInt64 = 20_000_000  // 20 ms of the submitter's own CPU time inside the gate
        let low = try NativeThread.spawn(attributes: ThreadAttributes(cpus: [0], scheduling: .other(nice: 0), name: "low")) {
            #expect(engine.core.enterSubmit())
            inside.set()
            let start = threadCPUTime()
            while threadCPUTime() &- start < submitterWork { rtio_cpu_relax() }
            engine.core.leaveSubmit()
            left.set()
        }
        #expect(waitUntil(seconds: 5) { inside.isSet })
        let closerCPU = SharedCounter()
        let high = try NativeThread.spawn(attributes: ThreadAttributes(cpus: [0], scheduling: .fifo(priority: 10), name: "high")) {
            let start = threadCPUTime()
            engine.shutdown()
            closerCPU.store(Int(threadCPUTime() &- start))
        }
        high.join()
        low.join()
        #expect(left.isSet)
        #expect(engine.isShutDown)
        #expect(UInt64(closerCPU.value) < submitterWork / 2, "the SCHED_FIFO shutdown used \(closerCPU.value) ns of CPU while the submitter was inside the gate")
    }

    /// The gate's event count: a closer that finds submitters inside sleeps,
    /// and the last one to leave wakes it (forced order, no timing).
    @Test("closeGate sleeps until the last submitter leaves, and no wake is lost")
    func gateHandshake() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        defer { engine.shutdown() }
        let core = engine.core
        #expect(core.enterSubmit() && core.enterSubmit())
        // As shutdown does: claim it (state `stopping`), then close the gate.
        #expect(core.claimShutdown())
        let waits = SharedCounter()
        let closed = SharedFlag()
        let tid = SharedCounter()
        let closer = startThread {
            tid.store(Int(rtio_gettid()))
            waits.store(core.closeGate())
            closed.set()
        }
        #expect(waitUntil(seconds: 5) { tid.value != 0 && threadState(pid_t(tid.value)) == "S" })
        core.leaveSubmit()
        #expect(!closed.isSet, "one submitter is still inside")
        #expect(!core.enterSubmit(), "a closed gate refuses")
        core.leaveSubmit()
        closer.join()
        #expect(closed.isSet && waits.value >= 1)
        // Reopen for the engine's own shutdown: the test held the gate and the state by hand.
        core.gate.pointee.store(0, ordering: .releasing)
        core.lifecycle.pointee.store(.running, ordering: .sequentiallyConsistent)
    }
}
