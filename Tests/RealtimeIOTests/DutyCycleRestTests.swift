import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Testing


/// A SCHED_FIFO worker with a 10 % duty cycle (1 ms of real-time spinning
/// per 10 ms window) and a 1 s spin budget: idle, it spins real-time for
/// 1 ms, then rests. The spin stays bounded: at most 1 ms real-time per 10 ms,
/// the rest as SCHED_OTHER or parked.
private func restConfiguration(_ rest: EngineConfiguration.RealtimeShareRest) throws -> EngineConfiguration {
    EngineConfiguration(
        groups: [.init(name: "dc", workers: 1, cpus: try CPUList(parsing: "1"), scheduling: .fifo(priority: 3))],
        ringCapacity: 8, requestsInFlight: 8, privilegePolicy: .required,
        spinBudget: .nanoseconds(1_000_000_000), realtimeSharePercent: 10, realtimeShareRest: rest)
}

/// Busy for 200 µs on the worker (a request that takes CPU, not I/O time).
private let busy200Microseconds: CustomBlockingCall = { _ in
    let end = rtio_monotonic_ns() &+ 200_000
    while rtio_monotonic_ns() < end { rtio_cpu_relax() }
    return 0
}

/// Blocked for 200 µs (a request that takes wall time, not CPU: a device read, a pipe).
private let sleep200Microseconds: CustomBlockingCall = { _ in
    usleep(200)
    return 0
}

/// Submits 200 × `call` at once from a thread on CPU 0 (a submitter sharing CPU 1
/// with the FIFO worker would be preempted after each submit and never build a
/// backlog); returns how many were refused.
private func submitBacklog(_ engine: IOEngine, _ call: CustomBlockingCall) throws -> Int {
    let refused = SharedCounter()
    let submitter = try NativeThread.spawn(attributes: ThreadAttributes(cpus: [0], name: "dc-submit")) {
        for tag in 0..<200 {
            do { try engine.submit(.custom(call, context: nil), tag: UInt64(tag)) } catch { refused.add() }
        }
    }
    submitter.join()
    return refused.value
}

/// CPU time a thread of this process has used, in ns (`schedstat`'s first field).
private func workerCPUTime(_ tid: Int32) throws -> UInt64 {
    let text = try String(contentsOfFile: "/proc/self/task/\(tid)/schedstat", encoding: .utf8)
    return try #require(text.split(separator: " ").first.flatMap { UInt64($0) }, "schedstat of \(tid): \(text)")
}

@Suite("Engine: duty-cycle rest", .serialized, .tags(.concurrency, .needsRoot))
struct DutyCycleRestTests {
    /// Saturation: 200 requests × 200 µs of CPU queued at once (40 ms of work)
    /// on a FIFO worker allowed 1 ms real-time per 10 ms window. Serving counts
    /// against the share: past it the worker serves the backlog as SCHED_OTHER,
    /// so it never runs real-time long enough for the kernel's RT throttle.
    @Test("a saturated real-time worker serves past its share as SCHED_OTHER",
          arguments: [10, 100], [EngineConfiguration.RealtimeShareRest.park, .slices])
    func saturatedWorkerDemotes(dutyPercent: Int, rest: EngineConfiguration.RealtimeShareRest) throws {
        var config = try restConfiguration(rest)
        config.spinBudget = .zero
        config.realtimeSharePercent = dutyPercent
        config.ringCapacity = 256
        config.requestsInFlight = 256
        let engine = try IOEngine(configuration: config)
        defer { engine.shutdown() }
        let tid = engine.workerThreadIDs[0]
        #expect(try submitBacklog(engine, busy200Microseconds) == 0)
        let done = reapAll(engine, count: 200)
        let snap = engine.workerSnapshots()[0]
        #expect(Set(done.map(\.tag)) == Set(0..<200))
        #expect(done.allSatisfy { $0.result == 0 })
        let demotions = engine.workerSnapshots()[0].demotions
        if dutyPercent == 100 {
            #expect(demotions == 0, "no share, no demotion")
        } else {
            // ≥ 40 ms of work in 10 ms windows: demoted in at least 3 of them.
            #expect(demotions >= 3, "demotions: \(demotions), parks \(snap.parks), max queue depth \(snap.maxQueueDepth)")
        }
        // Idle again: parked, and parked real-time.
        #expect(waitUntil(seconds: 5) { engine.workerSnapshots()[0].state == "parked" })
        #expect(ThreadScheduling.read(tid: tid) == .fifo(priority: 3))
    }

    /// The same backlog of requests that block instead of burning CPU: 40 ms
    /// of wall time in which the worker uses a few µs of CPU per request. The
    /// wall clock alone charged it all and demoted the worker in every
    /// window; the CPU clock decides, so it runs real-time throughout.
    @Test("a worker blocked in its requests is not demoted for time it did not run",
          arguments: [EngineConfiguration.RealtimeShareRest.park, .slices])
    func blockedWorkerKeepsPolicy(rest: EngineConfiguration.RealtimeShareRest) throws {
        var config = try restConfiguration(rest)
        config.spinBudget = .zero
        config.realtimeSharePercent = 50
        config.ringCapacity = 256
        config.requestsInFlight = 256
        let engine = try IOEngine(configuration: config)
        defer { engine.shutdown() }
        let tid = engine.workerThreadIDs[0]
        let cpuBefore = try workerCPUTime(tid)
        #expect(try submitBacklog(engine, sleep200Microseconds) == 0)
        let done = reapAll(engine, count: 200)
        let cpu = Int64(try workerCPUTime(tid) - cpuBefore)
        #expect(Set(done.map(\.tag)) == Set(0..<200))
        let snap = engine.workerSnapshots()[0]
        // ≥ 40 ms of blocked wall time in 10 ms windows, each past the 5 ms share by the wall clock.
        #expect(snap.maxQueueDepth >= 10, "no backlog formed (max queue depth \(snap.maxQueueDepth))")
        // Each demotion needs a window in which the worker really ran its share
        // (5 ms less the 0.1 ms margin) on the CPU: the kernel's count bounds them.
        // Blocked, the worker uses a few µs per request — ~1 ms for all 200 — so
        // none; the wall clock alone demoted it in every window (4–5 times).
        let allowed = cpu / (5_000_000 - RealtimeShare.confirmMargin)
        #expect(Int64(snap.demotions) <= allowed,
                "demoted \(snap.demotions) times; its CPU time over the run, \(cpu) ns, explains at most \(allowed)")
    }

    @Test("a real-time worker rests as SCHED_OTHER, still serves, and parks real-time again")
    func demotedRest() throws {
        let engine = try IOEngine(configuration: try restConfiguration(.demote))
        defer { engine.shutdown() }
        let tid = engine.workerThreadIDs[0]
        // Seen by the kernel: demoted while it rests.
        #expect(waitUntil(seconds: 5) {
            engine.workerSnapshots()[0].demotions >= 1 && ThreadScheduling.read(tid: tid) == .other(nice: 0)
        }, "worker never seen resting as other:0 (policy \(String(describing: ThreadScheduling.read(tid: tid))))")
        #expect(engine.workerSnapshots()[0].parks == 0, "it polls while it rests; it does not park")

        // A request during the rest is served.
        let file = try TemporaryFile(size: 4096)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
        defer { buffer.deallocate() }
        try engine.submit(.read(file.fd, into: buffer, at: 8), tag: 1)
        let first = reapAll(engine, count: 1)
        #expect(first.map(\.result) == [8])

        // The budget runs out with nothing to do: it parks, and parks real-time.
        #expect(waitUntil(seconds: 10) { engine.workerSnapshots()[0].state == "parked" })
        #expect(ThreadScheduling.read(tid: tid) == .fifo(priority: 3))
        // And a parked worker still wakes for the next request.
        try engine.submit(.read(file.fd, into: buffer, at: 16), tag: 2)
        #expect(reapAll(engine, count: 1).map(\.result) == [8])
    }

    /// An operator's retune (rtio-admin set-priority) during a rest is not undone.
    @Test("a retune during the rest stands")
    func retuneDuringRestStands() throws {
        let engine = try IOEngine(configuration: try restConfiguration(.demote))
        defer { engine.shutdown() }
        let tid = engine.workerThreadIDs[0]
        #expect(waitUntil(seconds: 5) { ThreadScheduling.read(tid: tid) == .other(nice: 0) })
        try ThreadScheduling.apply(.other(nice: 5), tid: tid)
        // The rest ends (window over or budget spent) without restoring FIFO 3.
        #expect(waitUntil(seconds: 10) { engine.workerSnapshots()[0].state == "parked" })
        #expect(ThreadScheduling.read(tid: tid) == .other(nice: 5))
    }

    @Test(".park: the worker keeps its policy and parks instead")
    func parkedRest() throws {
        let engine = try IOEngine(configuration: try restConfiguration(.park))
        defer { engine.shutdown() }
        let tid = engine.workerThreadIDs[0]
        var policies = Set<String>()
        let parked = waitUntil(seconds: 5) {
            policies.insert(String(describing: ThreadScheduling.read(tid: tid)))
            return engine.workerSnapshots()[0].parks >= 1
        }
        #expect(parked)
        #expect(policies == [String(describing: SchedulingPolicy.fifo(priority: 3) as SchedulingPolicy?)])
        #expect(engine.workerSnapshots()[0].demotions == 0)
    }

    @Test("the rest mode round-trips through JSON; an unknown one is refused")
    func restCoding() throws {
        let config = try restConfiguration(.demote)
        let data = try JSONEncoder().encode(config)
        #expect(String(decoding: data, as: UTF8.self).contains(#""realtimeShareRest":"demote""#))
        #expect(try JSONDecoder().decode(EngineConfiguration.self, from: data).realtimeShareRest == .demote)
        // The earlier keys are still read.
        let old = try EngineConfiguration(json: #"{"groups":[{"name":"g","workers":1}],"dutyCycleRest":"demote","spinDutyCyclePercent":30}"#)
        #expect(old.realtimeShareRest == .demote && old.realtimeSharePercent == 30)
        let defaulted = try JSONDecoder().decode(EngineConfiguration.self, from: Data(#"{"groups":[{"name":"g","workers":1}]}"#.utf8))
        #expect(defaulted.realtimeShareRest == .slices && defaulted.realtimeShareRestSlice == .microseconds(10))
        var sliced = try restConfiguration(.slices)
        sliced.realtimeShareRestSlice = .microseconds(120)
        let slicedJSON = String(decoding: try JSONEncoder().encode(sliced), as: UTF8.self)
        #expect(slicedJSON.contains(#""realtimeShareRest":"slices""#) && slicedJSON.contains(#""realtimeShareRestSliceNanoseconds":120000"#))
        #expect(try JSONDecoder().decode(EngineConfiguration.self, from: Data(slicedJSON.utf8)).realtimeShareRestSlice == .microseconds(120))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(EngineConfiguration.self, from: Data(#"{"groups":[{"name":"g","workers":1}],"dutyCycleRest":"sleep"}"#.utf8))
        }
    }

    /// Steady load past the share: a request every ~100 µs (never idle for the
    /// 1 s spin budget) on a FIFO worker allowed 1 ms real-time per 10 ms.
    /// `.slices` rests in timed sleeps it ends itself: no submit wakes it (0
    /// futex wakes, 0 parks), and it still leaves its CPU for most of each
    /// window. `.park` (the earlier rest) is run the same way to show what
    /// the counts catch: its rests are parks every submit there must wake.
    @Test("under steady load past the share, .slices rests with no futex wake and leaves the CPU",
          arguments: [EngineConfiguration.RealtimeShareRest.slices])
    func steadyLoadRestsWithoutWakes(rest: EngineConfiguration.RealtimeShareRest) throws {
        var config = try restConfiguration(rest)
        config.realtimeShareRestSlice = .microseconds(50)
        let engine = try IOEngine(configuration: config)
        defer { engine.shutdown() }
        let tid = engine.workerThreadIDs[0]
        let wakeup = engine.workers[0].ring.wakeup
        let file = try TemporaryFile(size: 4096)
        let requests = scaled(3000)
        let before = (wakes: wakeup.wakeSyscalls, parks: wakeup.parks, rests: wakeup.rests, cpu: try workerCPUTime(tid))
        let wallStart = rtio_monotonic_ns()
        let failures = SharedCounter()
        let fd = file.fd
        // The submitter runs on CPU 0, the worker's CPU is 1: it submits one
        // read, polls for its completion, sleeps ~100 µs, and repeats.
        let submitter = try NativeThread.spawn(attributes: ThreadAttributes(cpus: [0], name: "dc-steady")) {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
            defer { buffer.deallocate() }
            for tag in 0..<requests {
                do { try engine.submit(.read(fd, into: buffer, at: 0), tag: UInt64(tag)) } catch { failures.add(); return }
                var done = 0
                let deadline = rtio_monotonic_ns() &+ 10_000_000_000
                while done == 0 && rtio_monotonic_ns() < deadline {
                    done = engine.reap(rearm: false) { if $0.result != 8 { failures.add() } }
                }
                if done == 0 { failures.add(); return }
                usleep(100)
            }
        }
        submitter.join()
        let wall = rtio_monotonic_ns() &- wallStart
        let cpu = try workerCPUTime(tid) &- before.cpu
        let wakes = wakeup.wakeSyscalls - before.wakes
        let parks = wakeup.parks - before.parks
        let rests = wakeup.rests - before.rests
        #expect(failures.value == 0)
        // A park (and the one wake it needs) takes a full second without a
        // request: only a submitter held off its CPU that long (a loaded CI
        // machine) causes one. Resting never does: `.park` made one wake per
        // request that arrived during a rest (≈ 2700 of 3000).
        #expect(wakes <= parks, "\(wakes) futex wakes by submit for \(parks) parks")
        #expect(parks * 100 <= requests, "\(parks) parks over \(requests) requests (wakes \(wakes), rests \(rests))")
        // ≥ 3000 × 100 µs = 300 ms ≥ 30 windows, each ending in a rest of many slices.
        #expect(rests >= 30, "rests: \(rests)")
        // 10 % real-time share plus serving: a worker that spun through its
        // rests would be on its CPU for nearly all of it.
        #expect(Double(cpu) <= 0.5 * Double(wall), "worker on CPU \(cpu) ns of \(wall) ns")
    }

    /// Idle is not resting: with nothing to do for its spin budget the worker
    /// parks for real (announced), and the next submit wakes it with one
    /// futex wake.
    @Test(".slices: an idle worker parks and the next submit wakes it")
    func idleWorkerParks() throws {
        var config = try restConfiguration(.slices)
        config.spinBudget = .milliseconds(2)
        let engine = try IOEngine(configuration: config)
        defer { engine.shutdown() }
        let wakeup = engine.workers[0].ring.wakeup
        let file = try TemporaryFile(size: 4096)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
        defer { buffer.deallocate() }
        try engine.submit(.read(file.fd, into: buffer, at: 0), tag: 1)
        #expect(reapAll(engine, count: 1).map(\.result) == [8])
        #expect(waitUntil(seconds: 10) { wakeup.isParked && engine.workerSnapshots()[0].state == "parked" })
        #expect(wakeup.rests >= 1, "the budget (2 ms) outlasts the share (1 ms): it rested before parking")
        #expect(ThreadScheduling.read(tid: engine.workerThreadIDs[0]) == .fifo(priority: 3))
        let wakesBefore = wakeup.wakeSyscalls
        try engine.submit(.read(file.fd, into: buffer, at: 8), tag: 2)
        #expect(reapAll(engine, count: 1).map(\.result) == [8])
        #expect(wakeup.wakeSyscalls == wakesBefore + 1)
    }
}
