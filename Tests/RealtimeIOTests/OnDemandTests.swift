import CMallocCounter
import CRealtimeIOShims
import Foundation
import PrePatchBaseline
import RealtimeIO
import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

// MARK: helpers

/// Filled in by `probeCall` on the worker that runs the request.
struct OnDemandProbe {
    var sleepMicroseconds: UInt32 = 0
    var tid: Int32 = 0
    var cpuMask: UInt64 = 0
}

/// The CPUs thread `tid` (0: the caller) may run on, as a bit mask of CPUs 0...63.
func allowedCPUMask(tid: pid_t = 0) -> UInt64 {
    var set = rtio_cpu_set()
    guard rtio_sched_getaffinity_tid(tid, &set) == 0 else { return 0 }
    var mask: UInt64 = 0
    for cpu in 0..<64 where rtio_cpuset_contains(&set, Int32(cpu)) { mask |= 1 << UInt64(cpu) }
    return mask
}

func pinCallingThread(to cpu: Int32) {
    var set = rtio_cpu_set()
    rtio_cpuset_zero(&set)
    rtio_cpuset_add(&set, cpu)
    precondition(rtio_sched_setaffinity_tid(0, &set) == 0)
}

/// Records the worker's tid and allowed CPUs, then sleeps so that a burst needs threads.
let probeCall: CustomBlockingCall = { context in
    let probe = context!.assumingMemoryBound(to: OnDemandProbe.self)
    probe.pointee.tid = rtio_gettid()
    probe.pointee.cpuMask = allowedCPUMask()
    if probe.pointee.sleepMicroseconds > 0 { usleep(probe.pointee.sleepMicroseconds) }
    return 0
}

/// Returns its context as an Int: a completion carries proof of which request ran.
let echoCall: CustomBlockingCall = { context in Int(bitPattern: context) }

/// context → two atomics: [0] set when it started, [1] released by the test.
let blockerCall: CustomBlockingCall = { context in
    let flags = context!.assumingMemoryBound(to: Atomic<Int>.self)
    flags.pointee.store(1, ordering: .releasing)
    while (flags + 1).pointee.load(ordering: .acquiring) == 0 { usleep(1000) }
    return 7
}

/// Threads of this process named rtio-od* (on-demand workers and spawner threads).
func onDemandThreadCount() -> Int {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tasks.filter { tid in
        ((try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8)) ?? "").hasPrefix("rtio-od")
    }.count
}

func onDemandConfiguration(
    spawner: OnDemandPool.Spawner, maxThreads: Int = 64, idle: Double = 0.2, slots: Int = 1024
) -> EngineConfiguration {
    EngineConfiguration(
        groups: [], requestsInFlight: slots, spinBudget: .nanoseconds(0),
        onDemand: EngineConfiguration.OnDemand(maxThreads: maxThreads, idleTimeout: .seconds(idle), spawner: spawner))
}

/// Fills slot `slot` of `slab` with a custom call.
func fillCustom(_ slab: RequestSlab, _ slot: UInt32, _ call: @escaping CustomBlockingCall, _ context: UnsafeMutableRawPointer?) {
    let r = slab.record(slot)
    r.pointee.opcode = .custom
    r.pointee.custom = call
    r.pointee.buffer = context
    r.pointee.result = 0
}

// All on-demand suites run one at a time: they count this process's threads.
@Suite("OnDemand", .serialized)
struct OnDemandTests {

    // MARK: affinity inheritance (the 2011 bug)

    @Suite("OnDemand: affinity inheritance", .serialized)
    struct Affinity {
        static let burst = 64

        @Test("patched: workers get the host's CPUs; the pinned submitter creates no thread",
              arguments: [OnDemandPool.Spawner.hostLoop, .spawnerThread])
        func patched(spawner: OnDemandPool.Spawner) throws {
            let hostMask = allowedCPUMask()
            try #require(hostMask & 0b11 == 0b11, "needs CPUs 0 and 1")
            // The pthread_create interposer counts this thread's family: the spawner thread,
            // the submitter and every worker (born from one of them).
            rtio_thread_creation_counter_track(true)
            defer { rtio_thread_creation_counter_track(false) }
            let familyBefore = rtio_thread_creations_tracked()
            let engine = try IOEngine(configuration: onDemandConfiguration(spawner: spawner))
            defer { engine.shutdown() }
            let probes = UnsafeMutablePointer<OnDemandProbe>.allocate(capacity: Self.burst)
            probes.initialize(repeating: OnDemandProbe(sleepMicroseconds: 20_000), count: Self.burst)
            defer { probes.deallocate() }
            let shared = SendablePointer(probes)
            let submitterCreated = SharedCounter()
            // The submitter: pinned to CPU 1, like a vCPU thread.
            let submitter = startThread(name: "od-submitter") {
                pinCallingThread(to: 1)
                for i in 0..<Self.burst {
                    try! engine.submit(.custom(probeCall, context: UnsafeMutableRawPointer(shared[i])), tag: UInt64(i))
                }
                submitterCreated.store(Int(rtio_thread_creations_by_current_thread()))
            }
            let hostBefore = rtio_thread_creations_by_current_thread()
            // This thread is the host loop: reap runs the spawn bottom half.
            var tags = Set<UInt64>()
            let deadline = rtio_monotonic_ns() + 20_000_000_000
            while tags.count < Self.burst && rtio_monotonic_ns() < deadline {
                if engine.reap(rearm: false, { c in
                    #expect(c.result == 0 && c.worker == IOEngine.onDemandWorkerIndex)
                    tags.insert(c.tag)
                }) == 0 { usleep(100) }
            }
            submitter.join()
            #expect(tags.count == Self.burst)
            for i in 0..<Self.burst {
                #expect(probes[i].tid != 0)
                #expect(probes[i].cpuMask == hostMask, "worker \(probes[i].tid) allowed \(String(probes[i].cpuMask, radix: 2))")
            }
            engine.shutdown()  // joins every worker: every creation has been counted
            let stats = try #require(engine.onDemandStatistics)
            let hostCreated = Int(rtio_thread_creations_by_current_thread() - hostBefore)
            #expect(submitterCreated.value == 0)
            // The family's creations: the workers, the submitter and (spawnerThread) the spawner.
            let familyCreated = Int(rtio_thread_creations_tracked() - familyBefore)
            #expect(familyCreated == stats.threadsCreated + 1 + (spawner == .spawnerThread ? 1 : 0))
            #expect(stats.threadsCreated >= 2)
            if spawner == .hostLoop { #expect(hostCreated >= 1) }
        }

        @Test("spawnerThread: a pinned thread that both submits and reaps creates no worker")
        func pinnedHostWithSpawnerThread() throws {
            let hostMask = allowedCPUMask()
            try #require(hostMask & 0b11 == 0b11, "needs CPUs 0 and 1")
            // Created here (all CPUs): the spawner thread, and so every worker, keeps them.
            let engine = try IOEngine(configuration: onDemandConfiguration(spawner: .spawnerThread))
            defer { engine.shutdown() }
            let probes = UnsafeMutablePointer<OnDemandProbe>.allocate(capacity: Self.burst)
            probes.initialize(repeating: OnDemandProbe(sleepMicroseconds: 20_000), count: Self.burst)
            defer { probes.deallocate() }
            let shared = SendablePointer(probes)
            let hostCreated = SharedCounter()
            let received = SharedCounter()
            startThread(name: "od-host") {
                pinCallingThread(to: 1)
                for i in 0..<Self.burst {
                    try! engine.submit(.custom(probeCall, context: UnsafeMutableRawPointer(shared[i])), tag: UInt64(i))
                    received.add(engine.reap(rearm: false) { _ in })
                }
                let deadline = rtio_monotonic_ns() + 20_000_000_000
                while received.value < Self.burst && rtio_monotonic_ns() < deadline {
                    let n = engine.reap(rearm: false) { _ in }
                    if n == 0 { usleep(100) } else { received.add(n) }
                }
                hostCreated.store(Int(rtio_thread_creations_by_current_thread()))
            }.join()
            #expect(received.value == Self.burst)
            for i in 0..<Self.burst { #expect(probes[i].cpuMask == hostMask) }
            #expect(hostCreated.value == 0)
        }

        @Test("pre-patch baseline: the pinned submitter creates the workers, all on its CPU")
        func prePatch() throws {
            try #require(allowedCPUMask() & 0b11 == 0b11, "needs CPUs 0 and 1")
            let slab = try RequestSlab(count: Self.burst)
            let completed = SharedCounter()
            let pool = try PrePatchBaselinePool(
                slab: slab, maxThreads: 64, idleTimeout: .milliseconds(200), onCompletion: { _ in completed.add() })
            let probes = UnsafeMutablePointer<OnDemandProbe>.allocate(capacity: Self.burst)
            probes.initialize(repeating: OnDemandProbe(sleepMicroseconds: 20_000), count: Self.burst)
            defer { probes.deallocate() }
            let shared = SendablePointer(probes)
            let submitterCreated = SharedCounter()
            let submitter = startThread(name: "od-submitter") {
                pinCallingThread(to: 1)
                for i in 0..<Self.burst {
                    let slot = slab.acquire()!
                    fillCustom(slab, slot, probeCall, UnsafeMutableRawPointer(shared[i]))
                    try! pool.submit(slot)
                }
                submitterCreated.store(Int(rtio_thread_creations_by_current_thread()))
            }
            submitter.join()
            #expect(waitUntil(seconds: 20) { completed.value == Self.burst })
            for i in 0..<Self.burst {
                #expect(probes[i].cpuMask == 0b10, "worker \(probes[i].tid) allowed \(String(probes[i].cpuMask, radix: 2))")
            }
            let created = pool.statistics.threadsCreated
            #expect(created >= 2)
            #expect(submitterCreated.value == created)
            pool.shutdown()
            for slot in 0..<UInt32(Self.burst) { slab.release(slot) }
        }
    }

    // MARK: the chain

    @Suite("OnDemand: spawn chain and idle exit", .serialized)
    struct Chain {
        @Test("one bottom half, newborns create the rest; idle workers exit")
        func chain() throws {
            let burst = 64
            let before = threadCount()
            let slab = try RequestSlab(count: burst)
            let completed = SharedCounter()
            let pool = try OnDemandPool(
                slab: slab, configuration: .init(maxThreads: 64, idleTimeout: .milliseconds(200), spawner: .hostLoop),
                onCompletion: { _ in completed.add() })
            let probes = UnsafeMutablePointer<OnDemandProbe>.allocate(capacity: burst)
            probes.initialize(repeating: OnDemandProbe(sleepMicroseconds: 20_000), count: burst)
            defer { probes.deallocate() }
            let shared = SendablePointer(probes)
            startThread {
                for i in 0..<burst {
                    let slot = slab.acquire()!
                    fillCustom(slab, slot, probeCall, UnsafeMutableRawPointer(shared[i]))
                    try! pool.submit(slot)
                }
            }.join()
            // Submits create nothing: the whole burst is backlog, one bottom half scheduled.
            var s = pool.statistics
            #expect(s.threadsCreated == 0 && s.currentThreads == burst && s.newThreads == burst && s.pendingThreads == 0)
            #expect(pool.hasPendingSpawns)
            // The host loop. The pthread_create interposer counts its creations, and its
            // family's (the workers, each born from the host or from an earlier worker).
            rtio_thread_creation_counter_track(true)
            defer { rtio_thread_creation_counter_track(false) }
            let hostBefore = rtio_thread_creations_by_current_thread()
            let familyBefore = rtio_thread_creations_tracked()
            var hostRuns = 0
            let deadline = rtio_monotonic_ns() + 20_000_000_000
            while completed.value < burst && rtio_monotonic_ns() < deadline {
                hostRuns += pool.processPendingSpawns()
                usleep(100)
            }
            #expect(completed.value == burst)
            // The chain may still be creating (early workers can take several requests):
            // the whole backlog is created, by newborns.
            #expect(waitUntil(seconds: 10) { let t = pool.statistics; return t.newThreads == 0 && t.pendingThreads == 0 })
            s = pool.statistics
            let host = Int(rtio_thread_creations_by_current_thread() - hostBefore)
            #expect(host == 1 && hostRuns == 1, "the bottom half created \(host)")
            #expect(s.threadsCreated == burst)
            #expect(Int(rtio_thread_creations_tracked() - familyBefore) == burst)
            #expect(s.peakThreads <= 64)
            // Idle workers leave after 200 ms.
            #expect(waitUntil(seconds: 10) { onDemandThreadCount() == 0 && pool.statistics.currentThreads == 0 })
            #expect(waitUntil(seconds: 5) { threadCount() <= before })
            pool.shutdown()
            #expect(pool.statistics.idleThreads == 0)
            for slot in 0..<UInt32(burst) { slab.release(slot) }
        }

        @Test("maxThreads is never exceeded")
        func bounded() throws {
            let engine = try IOEngine(configuration: onDemandConfiguration(spawner: .hostLoop, maxThreads: 8))
            defer { engine.shutdown() }
            let probes = UnsafeMutablePointer<OnDemandProbe>.allocate(capacity: 64)
            probes.initialize(repeating: OnDemandProbe(sleepMicroseconds: 5_000), count: 64)
            defer { probes.deallocate() }
            for i in 0..<64 { try engine.submit(.custom(probeCall, context: UnsafeMutableRawPointer(probes + i)), tag: UInt64(i)) }
            let all = reapAll(engine, count: 64, seconds: 20)
            #expect(all.count == 64)
            let s = try #require(engine.onDemandStatistics)
            #expect(s.peakThreads <= 8 && s.peakThreads >= 1)
            #expect(Set((0..<64).map { probes[$0].tid }).count <= s.threadsCreated)
        }
    }

    // MARK: exactly once

    enum StressMode: String, CaseIterable, Sendable { case hostLoop, spawnerThread, hybrid }

    @Suite("OnDemand: exactly once", .serialized)
    struct ExactlyOnce {
        @Test("several producers, every tag completes once", arguments: StressMode.allCases)
        func stress(mode: StressMode) throws {
            let producers = 4
            let perProducer = scaled(2_500)
            let total = producers * perProducer
            let config: EngineConfiguration
            switch mode {
            case .hostLoop: config = onDemandConfiguration(spawner: .hostLoop, maxThreads: 4, slots: 256)
            case .spawnerThread: config = onDemandConfiguration(spawner: .spawnerThread, maxThreads: 4, slots: 256)
            case .hybrid:
                config = EngineConfiguration(
                    groups: [.init(name: "h", workers: 1)], ringCapacity: 2, requestsInFlight: 256,
                    spinBudget: .nanoseconds(0),
                    onDemand: EngineConfiguration.OnDemand(maxThreads: 4, idleTimeout: .seconds(0.2), overflow: true))
            }
            let engine = try IOEngine(configuration: config)
            let done = SharedCounter()
            var threads: [NativeThread] = []
            for p in 0..<producers {
                threads.append(startThread {
                    for i in 0..<perProducer {
                        let tag = UInt64(p * perProducer + i)
                        while true {
                            do {
                                try engine.submit(.custom(echoCall, context: UnsafeMutableRawPointer(bitPattern: UInt(tag + 1))), tag: tag)
                                break
                            } catch {
                                #expect(error as? SubmitError == .full)
                                sched_yield()
                            }
                        }
                    }
                    done.add()
                })
            }
            var seen = [UInt8](repeating: 0, count: total)
            var received = 0
            var wrong = 0
            let deadline = rtio_monotonic_ns() + 60_000_000_000
            while received < total && rtio_monotonic_ns() < deadline {
                if engine.reap(rearm: false, { c in
                    seen[Int(c.tag)] &+= 1
                    if c.result != Int(c.tag) + 1 { wrong += 1 }
                    received += 1
                }) == 0 { sched_yield() }
            }
            for t in threads { t.join() }
            engine.shutdown()
            engine.reap(rearm: false) { _ in received += 1 }
            #expect(received == total)
            #expect(wrong == 0)
            #expect(seen.allSatisfy { $0 == 1 })
            if mode == .hybrid { #expect(engine.mode == .hybrid) } else { #expect(engine.mode == .onDemand) }
        }
    }

    // MARK: overflow

    @Suite("OnDemand: hybrid overflow", .serialized)
    struct Overflow {
        @Test("a core that never fills never overflows")
        func neverFull() throws {
            let engine = try IOEngine(configuration: EngineConfiguration(
                groups: [.init(name: "h", workers: 1)], ringCapacity: 256, requestsInFlight: 1024, spinBudget: .nanoseconds(0),
                onDemand: EngineConfiguration.OnDemand(overflow: true)))
            defer { engine.shutdown() }
            #expect(engine.mode == .hybrid)
            var inFlight = 0
            var received = 0
            for i in 0..<1000 {
                try engine.submit(.custom(echoCall, context: nil), tag: UInt64(i))
                inFlight += 1
                while inFlight >= 8 { inFlight -= engine.reap(rearm: false) { _ in received += 1 } }
            }
            received += reapAll(engine, count: inFlight).count
            #expect(received == 1000)
            #expect(engine.overflowCount == 0)
            #expect(engine.onDemandStatistics?.threadsCreated == 0)
        }

        @Test("a tiny ring behind a blocked worker overflows; idle overflow workers exit")
        func blockedWorker() throws {
            let before = threadCount()
            let engine = try IOEngine(configuration: EngineConfiguration(
                groups: [.init(name: "h", workers: 1)], ringCapacity: 2, requestsInFlight: 64, spinBudget: .nanoseconds(0),
                onDemand: EngineConfiguration.OnDemand(maxThreads: 4, idleTimeout: .seconds(0.2), overflow: true)))
            defer { engine.shutdown() }
            let flags = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 2)
            flags.initialize(to: Atomic(0))
            (flags + 1).initialize(to: Atomic(0))
            defer { flags.deallocate() }
            try engine.submit(.custom(blockerCall, context: UnsafeMutableRawPointer(flags)), tag: 1000, placement: .worker(0))
            #expect(waitUntil(seconds: 5) { flags.pointee.load(ordering: .acquiring) == 1 })
            // .worker(i) never overflows (it promises order on that worker).
            for i in 0..<20 { try engine.submit(.custom(echoCall, context: nil), tag: UInt64(i)) }
            var byOnDemand = 0
            var all: [IOCompletion] = []
            let overflowed = engine.overflowCount
            #expect(overflowed > 0 && overflowed <= 20)
            // Overflowed requests complete while the core worker is still blocked.
            let early = reapAll(engine, count: overflowed, seconds: 10)
            #expect(early.count == overflowed)
            #expect(early.allSatisfy { $0.worker == IOEngine.onDemandWorkerIndex })
            all += early
            (flags + 1).pointee.store(1, ordering: .releasing)
            all += reapAll(engine, count: 21 - overflowed, seconds: 10)
            byOnDemand = all.filter { $0.worker == IOEngine.onDemandWorkerIndex }.count
            #expect(all.count == 21)
            #expect(Set(all.map(\.tag)).count == 21)
            #expect(byOnDemand == overflowed)
            #expect(all.first { $0.tag == 1000 }?.result == 7)
            // Back to the preallocated core once the overflow workers idle out.
            #expect(waitUntil(seconds: 10) { onDemandThreadCount() == 0 })
            #expect(waitUntil(seconds: 5) { threadCount() <= before + 1 })
        }

        @Test("placement .worker(i) is refused with .full instead of overflowing")
        func pinnedPlacementDoesNotOverflow() throws {
            let engine = try IOEngine(configuration: EngineConfiguration(
                groups: [.init(name: "h", workers: 1)], ringCapacity: 2, requestsInFlight: 64, spinBudget: .nanoseconds(0),
                onDemand: EngineConfiguration.OnDemand(overflow: true)))
            defer { engine.shutdown() }
            let flags = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 2)
            flags.initialize(to: Atomic(0))
            (flags + 1).initialize(to: Atomic(0))
            defer { flags.deallocate() }
            try engine.submit(.custom(blockerCall, context: UnsafeMutableRawPointer(flags)), tag: 0, placement: .worker(0))
            #expect(waitUntil(seconds: 5) { flags.pointee.load(ordering: .acquiring) == 1 })
            var accepted = 0
            var refused = 0
            for i in 1...4 {
                do { try engine.submit(.custom(echoCall, context: nil), tag: UInt64(i), placement: .worker(0)); accepted += 1 } catch {
                    #expect(error == .full)
                    refused += 1
                }
            }
            #expect(refused > 0 && engine.overflowCount == 0)
            (flags + 1).pointee.store(1, ordering: .releasing)
            #expect(reapAll(engine, count: 1 + accepted).count == 1 + accepted)
        }
    }

    // MARK: shutdown

    struct ShutdownCase: Sendable, CustomTestStringConvertible {
        var spawner: OnDemandPool.Spawner
        var drain: Bool
        var testDescription: String { "\(spawner.rawValue), \(drain ? "drain" : "cancel")" }
    }

    @Suite("OnDemand: shutdown", .serialized)
    struct Shutdown {
        @Test("shutdown while threads are being born loses nothing and leaks no thread", arguments: [
            ShutdownCase(spawner: .hostLoop, drain: true), ShutdownCase(spawner: .hostLoop, drain: false),
            ShutdownCase(spawner: .spawnerThread, drain: true), ShutdownCase(spawner: .spawnerThread, drain: false),
        ])
        func whileBeingBorn(c: ShutdownCase) throws {
            let before = threadCount()
            for round in 0..<5 {
                let engine = try IOEngine(configuration: onDemandConfiguration(spawner: c.spawner))
                let probes = UnsafeMutablePointer<OnDemandProbe>.allocate(capacity: 64)
                probes.initialize(repeating: OnDemandProbe(sleepMicroseconds: 2_000), count: 64)
                defer { probes.deallocate() }
                for i in 0..<64 { try engine.submit(.custom(probeCall, context: UnsafeMutableRawPointer(probes + i)), tag: UInt64(i)) }
                // hostLoop: run the bottom half in some rounds, so the chain is mid-way.
                if round % 2 == 1 { engine.processEvents() }
                engine.shutdown(c.drain ? .drain : .cancel)
                var tags: [UInt64: Int] = [:]
                var ran = 0
                var cancelled = 0
                engine.reap(rearm: false) { completion in
                    tags[completion.tag, default: 0] += 1
                    if completion.result == 0 { ran += 1 } else if completion.result == -Int(ECANCELED) { cancelled += 1 }
                }
                #expect(tags.count == 64 && tags.values.allSatisfy { $0 == 1 })
                #expect(ran + cancelled == 64)
                if c.drain { #expect(ran == 64) }
                let s = try #require(engine.onDemandStatistics)
                #expect(s.currentThreads == 0 && s.pendingThreads == 0 && s.newThreads == 0 && s.idleThreads == 0)
                #expect(s.completed == 64)
                #expect(throws: SubmitError.shutDown) { try engine.submit(.custom(echoCall, context: nil), tag: 0) }
                // Every thread joined: none left (a joined task may linger for microseconds).
                #expect(waitUntil(seconds: 2) { onDemandThreadCount() == 0 })
            }
            #expect(waitUntil(seconds: 5) { threadCount() <= before })
        }
    }

    // MARK: thread creation failure

    @Suite("OnDemand: thread creation failure", .serialized)
    struct CreationFailure {
        static func run(_ executable: String, _ arguments: [String]) throws -> [String: Any] {
            let (_, out) = try runProcess(executable, arguments)
            let line = out.split(separator: "\n").last.map(String.init) ?? ""
            return (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? ["raw": out]
        }

        /// Runs the test host as `nobody` with RLIMIT_NPROC = `limit`. (The kernel exempts uid 0
        /// from RLIMIT_NPROC whatever its capabilities, so dropping CAP_SYS_RESOURCE and
        /// CAP_SYS_ADMIN is not enough for root; nobody has no other tasks on this machine.)
        ///
        /// The host runs from a copy in a fresh world-readable directory: the build folder may sit
        /// under a directory nobody cannot enter (a `mktemp -d` clone is 0700).
        static func runAsNobody(nproc limit: Int, _ arguments: [String]) throws -> [String: Any] {
            let directory = NSTemporaryDirectory() + "rtio-nobody-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let host = directory + "/rtio-testhost"
            try FileManager.default.copyItem(atPath: builtProduct("rtio-testhost"), toPath: host)
            return try run("/usr/bin/setpriv", [
                "--reuid=65534", "--regid=65534", "--clear-groups",
                "/usr/bin/prlimit", "--nproc=\(limit):\(limit)", host,
            ] + arguments)
        }

        @Test("no thread can be created: every request completes with -EAGAIN", arguments: [OnDemandPool.Spawner.hostLoop])
        func noThreadAtAll(spawner: OnDemandPool.Spawner) throws {
            // One task allowed: the host process itself; every pthread_create fails with EAGAIN.
            let r = try Self.runAsNobody(nproc: 1, ["--ondemand", "--count", "32", "--sleep-ms", "1", "--spawner", spawner.rawValue])
            #expect(r["started"] as? Bool == true, "\(r)")
            #expect(r["completed"] as? Int == 32, "\(r)")
            #expect(r["unique"] as? Bool == true, "\(r)")
            #expect(r["eagain"] as? Int == 32, "\(r)")
            #expect(r["threads_created"] as? Int == 0, "\(r)")
            #expect((r["creation_failures"] as? Int ?? 0) >= 1, "\(r)")
            #expect(r["failed_for_no_thread"] as? Int == 32, "\(r)")
        }

        @Test("spawner thread cannot be created: the engine fails to start, clearly")
        func noSpawnerThread() throws {
            let r = try Self.runAsNobody(nproc: 1, ["--ondemand", "--count", "1", "--spawner", "spawnerThread"])
            #expect(r["started"] as? Bool == false, "\(r)")
            #expect((r["error"] as? String ?? "").contains("rtio-od-spawn"), "\(r)")
        }

        @Test("a few threads can be created: queued requests run on them, nothing is lost")
        func someThreads() throws {
            // Four tasks: the host and up to three workers.
            let r = try Self.runAsNobody(nproc: 4, ["--ondemand", "--count", "64", "--sleep-ms", "10"])
            #expect(r["started"] as? Bool == true, "\(r)")
            #expect(r["completed"] as? Int == 64, "\(r)")
            #expect(r["unique"] as? Bool == true, "\(r)")
            #expect(r["ok"] as? Int == 64, "\(r)")
            #expect((r["creation_failures"] as? Int ?? 0) >= 1, "\(r)")
            let created = r["threads_created"] as? Int ?? 0
            #expect(created >= 1 && created <= 3 * 64, "\(r)")
        }
    }

    // MARK: configuration

    @Suite("OnDemand: configuration and modes")
    struct Modes {
        @Test("no groups is valid only with onDemand; JSON round trip")
        func validation() throws {
            #expect(throws: ConfigurationError.self) { try EngineConfiguration(groups: []).validate() }
            try onDemandConfiguration(spawner: .hostLoop).validate()
            let json = #"{"groups":[],"onDemand":{"maxThreads":8,"idleTimeoutSeconds":0.5,"spawner":"spawnerThread"}}"#
            let decoded = try JSONDecoder().decode(EngineConfiguration.self, from: Data(json.utf8))
            #expect(decoded.onDemand == EngineConfiguration.OnDemand(maxThreads: 8, idleTimeout: .seconds(0.5), spawner: .spawnerThread))
            let again = try JSONDecoder().decode(EngineConfiguration.self, from: JSONEncoder().encode(decoded))
            #expect(again == decoded)
            var bad = onDemandConfiguration(spawner: .hostLoop)
            bad.onDemand?.maxThreads = 0
            #expect(throws: ConfigurationError.self) { try bad.validate() }
            bad = testConfiguration()
            bad.privilegePolicy = .required
            bad.onDemand = EngineConfiguration.OnDemand(degradeToOnDemand: true)
            #expect(throws: ConfigurationError.self) { try bad.validate() }
        }

        @Test("on-demand mode: placement .worker(i) is refused; async perform works")
        func placements() async throws {
            let engine = try IOEngine(configuration: onDemandConfiguration(spawner: .spawnerThread))
            defer { engine.shutdown() }
            #expect(engine.mode == .onDemand && engine.workerCount == 0)
            #expect(throws: SubmitError.noSuchWorker(0)) {
                try engine.submit(.custom(echoCall, context: nil), tag: 0, placement: .worker(0))
            }
            let value = try await engine.perform(.custom(echoCall, context: UnsafeMutableRawPointer(bitPattern: 42)))
            #expect(value == 42)
        }

        @Test("degradeToOnDemand: real-time refused (child without CAP_SYS_NICE) starts in on-demand mode")
        func degrade() throws {
            let host = builtProduct("rtio-testhost")
            let r = try CreationFailure.run("/usr/sbin/capsh", [
                "--drop=cap_sys_nice", "--", "-c", "ulimit -r 0; exec \(host) --ondemand --degrade --count 16 --sleep-ms 1",
            ])
            #expect(r["started"] as? Bool == true, "\(r)")
            #expect(r["mode"] as? String == "onDemand", "\(r)")
            let degradations = r["degradations"] as? [String] ?? []
            #expect(degradations.contains { $0.contains("on-demand mode") }, "\(degradations)")
            #expect(r["ok"] as? Int == 16, "\(r)")
        }
    }
}
