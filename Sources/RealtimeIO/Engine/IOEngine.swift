import CRealtimeIOShims
import Logging
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
import RealtimeIOLinux
#endif

/// A preallocated, real-time I/O engine.
///
/// ## Synopsis
/// ```swift
/// let engine = try IOEngine(configuration: config)
/// try engine.submit(.read(fd, into: buffer, at: 0), tag: 1)
/// // poll(engine.completionFD) … then:
/// engine.reap { completion in … }
/// engine.shutdown(.drain)
/// ```
///
/// ## Description
/// `init` creates every worker, ring, request slot and the completion eventfd,
/// locks memory as configured, and returns only when every worker runs. Each
/// worker is born with its CPUs and scheduling in its pthread attributes
/// (`PTHREAD_EXPLICIT_SCHED`), independent of the calling thread. A worker
/// whose group configures no CPUs is born with the process's allowed CPUs
/// (its cpuset's effective CPUs ∩ online CPUs, without `isolcpus=` CPUs;
/// see ``EngineConfiguration/WorkerGroup/cpus``), never the creating thread's mask.
///
/// After that, `submit` takes no lock, allocates nothing, and makes no syscall
/// unless the chosen worker is parked. Workers run requests and post
/// completions to per-worker rings; the host learns of them through one
/// coalesced eventfd and collects them with `reap` on its own thread.
///
/// With ``EngineConfiguration/onDemand`` the engine also (or only) runs
/// requests on workers created on demand; see ``EngineMode`` and
/// ``EngineConfiguration/OnDemand``. Their completions arrive through the same
/// eventfd and `reap`; in those modes submit and reap take a
/// priority-inheriting mutex, and reap may create a thread.
///
/// ## Thread safety
/// `submit` may be called from any number of threads. `reap` may be called
/// from any thread, but one at a time: a concurrent second caller returns 0.
/// `shutdown` may be called from any thread but a worker; it is idempotent.
///
/// ## Errors
/// Bad input fails at submit with ``SubmitError`` and enqueues nothing; I/O
/// errors arrive as negative results (`-errno`) in the completion. Every
/// accepted request completes exactly once — also on shutdown.
public final class IOEngine: @unchecked Sendable {
    /// The configuration the engine was created with, as given.
    public let configuration: EngineConfiguration
    /// What could not be applied as requested (`bestEffort` only).
    public let degradations: [Degradation]
    /// The privileges seen at start.
    public let privileges: PrivilegeReport
    /// Which workers run requests: preallocated, on-demand, or both (hybrid).
    public let mode: EngineMode
    /// Where the engine logs its lifecycle (start, degradations, worker exits,
    /// shutdown); only from `init` and ``shutdown(_:)``, never on the I/O path.
    public let logger: Logger

    let core: EngineCore
    let workers: [Worker]
    /// Each worker's submission ring, unretained: submit and placement reach a
    /// ring without touching the reference counts of the worker or the ring
    /// (a count the worker thread also changes would bounce its cache line
    /// between the CPUs on every submit). `workers` keeps them alive.
    let rings: UnsafeMutablePointer<Unmanaged<SubmissionRing>>
    /// Each worker's completion ring, unretained, for `reap` (same reason).
    let completionRings: UnsafeMutablePointer<Unmanaged<CompletionRing>>
    private let ringsStorage: CacheAlignedStorage
    /// Engine-wide worker indices of each group, in configuration order.
    let groupWorkers: [[Int]]
    /// Next worker of each group for ``Placement/roundRobin(_:)``.
    let roundRobin: UnsafeMutablePointer<Atomic<Int>>
    private let roundRobinStorage: CacheAlignedStorage
    /// Publishes the workers' counters to `rtio-admin`; owns their memory when present.
    private let statusFile: StatusFile?
    /// The counters' memory when no status file could be published.
    private let privateCounters: CacheAlignedStorage?
    /// On-demand workers (on-demand and hybrid modes); see IOEngine+OnDemand.swift.
    let onDemand: OnDemandPool?
    /// On-demand completions waiting for `reap`.
    let onDemandCompletions: OnDemandCompletionQueue?
    /// Requests that overflowed to `onDemand` (``overflowCount``).
    let overflowCounter = Atomic<Int>(0)
    /// ``EngineConfiguration/submitterReadsDuringRest`` in effect: asked for,
    /// workers that rest in slices, and ring delivery (see "Reads during a rest").
    let readsDuringRest: Bool
    /// The process's CPUs read at start: what CPU lists were validated against,
    /// and (``ProcessCPUs/unpinned``) the birth mask of every thread the engine
    /// creates without configured CPUs.
    package let processCPUs: ProcessCPUs

    /// The eventfd that becomes readable when completions are ready for ``reap(maximum:rearm:_:)``.
    /// Open as long as the engine lives; after ``shutdown(_:)`` it stays readable.
    public var completionFD: FileDescriptor { FileDescriptor(rawValue: core.eventFD) }

    /// Whether the process's memory is locked now (by ``ProcessMemory/lock(_:tuneMalloc:)``,
    /// by this or another engine's ``EngineConfiguration/memoryLocking``, or by
    /// the host itself). Reads /proc: not for the I/O path.
    public var isMemoryLocked: Bool { ProcessMemory.isLocked }

    /// Preallocated workers (0 in on-demand mode).
    public var workerCount: Int { workers.count }

    /// The status file `rtio-admin` reads; nil if it could not be created
    /// (``degradations`` says why). Unlinked by ``shutdown(_:)``.
    public var statusFilePath: String? { statusFile?.path }

    /// Starts an engine.
    ///
    /// In order: a ``StartupPlan`` from the configuration and the process's
    /// privileges, after the ``EngineFootprint`` is checked against the memory
    /// available (nothing created yet); then every resource (slots, eventfd,
    /// status file, rings, memory lock); then the workers, each born with its
    /// attributes; then, in on-demand and hybrid modes, the on-demand pool.
    /// Returns when every worker runs and its CPUs and scheduling, read back
    /// from the kernel, are what it was born to have (a difference throws under
    /// `required`, is a ``Degradation`` under `bestEffort`). On failure
    /// everything created so far is released and every started thread joined.
    ///
    /// - Parameters:
    ///   - configuration: validated here; a bad field throws ``EngineError/configuration(_:)``.
    ///   - workerStartHook: runs on each worker thread before it takes work.
    ///   - logger: receives the lifecycle events (see ``logger``). The default
    ///     discards them: an engine inside a C host or the POSIX AIO drop-in
    ///     must not write to the process's stderr unasked.
    /// - Throws: ``EngineError``.
    public convenience init(
        configuration: EngineConfiguration,
        workerStartHook: WorkerStartHook? = nil,
        logger: Logger = Logger(label: "realtimeio", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws(EngineError) {
        try self.init(configuration: configuration, workerStartHook: workerStartHook, logger: logger, publishesStatus: true)
    }

    /// Starts an engine, with or without a status file: `publishesStatus`
    /// false keeps its counters private (an engine internal to another, such
    /// as the POSIX AIO drop-in's stream threads, which `rtio-admin` need not
    /// list apart).
    package init(
        configuration: EngineConfiguration, workerStartHook: WorkerStartHook?,
        logger: Logger = Logger(label: "realtimeio", factory: { _ in SwiftLogNoOpLogHandler() }), publishesStatus: Bool
    ) throws(EngineError) {
        self.logger = logger
        do {
            processCPUs = try ProcessCPUs.current()
        } catch {
            throw .configuration(ConfigurationError(
                field: "cpus", problem: "cannot read online CPUs: \(error)", remedy: "check /sys/devices/system/cpu/online"))
        }
        do { try configuration.validate(processCPUs: processCPUs) } catch { throw .configuration(error) }
        self.configuration = configuration
        privileges = PrivilegeReport.current()

        // 1. The plan: memory and privileges decided before anything is created.
        try EngineFootprint(configuration).check(
            available: MemoryAvailability.current(), privileges: privileges, configuration: configuration)
        let plan = try StartupPlan.make(configuration, privileges: privileges)
        mode = plan.mode
        readsDuringRest = configuration.submitterReadsDuringRest && configuration.realtimeShareRest == .slices
            && configuration.realtimeSharePercent < 100 && configuration.completionDelivery.handler == nil
        var degradations = plan.degradations

        // 2. Resources, all preallocated and touched.
        let slab: RequestSlab
        do { slab = try RequestSlab(count: configuration.requestsInFlight) } catch { throw .configuration(error) }
        let efd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard efd >= 0 else { throw .eventFD(Errno(rawValue: errno)) }
        let core = EngineCore(
            slab: slab, eventFD: efd, spinBudget: configuration.spinBudget,
            realtimeSharePercent: configuration.realtimeSharePercent, realtimeShareRest: configuration.realtimeShareRest,
            realtimeShareRestSlice: configuration.realtimeShareRestSlice,
            handler: configuration.completionDelivery.handler, workerStartHook: workerStartHook,
            workerCount: max(configuration.workerCount, plan.groups.reduce(0) { $0 + $1.workers }))
        self.core = core
        var published = configuration
        published.groups = plan.groups
        let countersMemory: UnsafeMutableRawPointer
        do {
            statusFile = publishesStatus ? try StatusFile(configuration: published, mode: plan.mode) : nil
        } catch {
            statusFile = nil
            degradations.append(Degradation(
                kind: .statusFile, requested: "published", applied: "rtio-admin cannot see this engine", reason: "\(error)"))
        }
        if let statusFile {
            privateCounters = nil
            countersMemory = statusFile.countersMemory
        } else {
            let storage = CacheAlignedStorage(byteCount: max(1, published.workerCount) * WorkerCounters.byteCount)
            countersMemory = storage.base
            privateCounters = storage
        }
        roundRobinStorage = CacheAlignedStorage(byteCount: max(1, plan.groups.count) * MemoryLayout<Atomic<Int>>.stride)
        roundRobin = roundRobinStorage.base.bindMemory(to: Atomic<Int>.self, capacity: max(1, plan.groups.count))
        for g in 0..<plan.groups.count { (roundRobin + g).initialize(to: Atomic(0)) }
        (workers, groupWorkers) = try Self.makeWorkers(plan, configuration: configuration, countersMemory: countersMemory, core: core)
        let slots = max(1, workers.count)
        ringsStorage = CacheAlignedStorage(byteCount: 2 * slots * MemoryLayout<UnsafeRawPointer>.stride)
        rings = ringsStorage.base.bindMemory(to: Unmanaged<SubmissionRing>.self, capacity: slots)
        completionRings = (ringsStorage.base + slots * MemoryLayout<UnsafeRawPointer>.stride)
            .bindMemory(to: Unmanaged<CompletionRing>.self, capacity: slots)
        for (i, worker) in workers.enumerated() {
            (rings + i).initialize(to: .passUnretained(worker.ring))
            (completionRings + i).initialize(to: .passUnretained(worker.completions))
        }

        // 3. Lock memory: before the threads for MCL_FUTURE (their stacks are then locked too).
        if plan.memoryLockFlags != 0 {
            do throws(Errno) {
                try ProcessMemory.apply(flags: plan.memoryLockFlags, tuneMalloc: configuration.tuneMalloc)
            } catch let e {
                if configuration.privilegePolicy == .required {
                    Self.abandon(workers: [], core: core)
                    throw .insufficientPrivilege(
                        what: "memory locking \(configuration.memoryLocking.rawValue)", reason: "mlockall: \(e)",
                        remedy: PrivilegeReport.memlockRemedy)
                }
                degradations.append(Degradation(
                    kind: .memoryLocking, requested: configuration.memoryLocking.rawValue, applied: "memory not locked",
                    reason: "mlockall: \(e)", remedy: PrivilegeReport.memlockRemedy))
            }
        }

        // 4. Workers, born with their attributes.
        do {
            try Self.startWorkers(
                workers, plan: plan, unpinned: processCPUs.unpinned, policy: configuration.privilegePolicy,
                degradations: &degradations)
        } catch {
            Self.abandon(workers: workers, core: core)
            throw error
        }

        // 5. The on-demand pool (no worker yet; with "spawnerThread", its spawner thread).
        if plan.mode != .preallocated, let settings = configuration.onDemand {
            do {
                (onDemand, onDemandCompletions) = try Self.makeOnDemandPool(
                    settings: settings, core: core, spawnerCPUs: processCPUs.unpinned)
            } catch {
                Self.abandon(workers: workers, core: core)
                throw error
            }
        } else {
            onDemand = nil
            onDemandCompletions = nil
        }

        // 6. Wait until every worker runs (tid known, stack touched), then read back what it was born with.
        do throws(EngineError) {
            if let late = Self.waitUntilStarted(workers) { throw EngineError.workerStartTimeout(worker: late.name) }
            try Self.checkBirth(workers, groups: plan.groups, policy: configuration.privilegePolicy, degradations: &degradations)
        } catch {
            onDemand?.shutdown(.cancel)
            Self.abandon(workers: workers, core: core)
            throw error
        }
        self.degradations = degradations
        statusFile?.publish(degradations: degradations)  // start-up only, not the I/O path
        logStarted()
    }

    /// Builds every worker (rings, counters) without starting a thread.
    private static func makeWorkers(
        _ plan: StartupPlan, configuration: EngineConfiguration,
        countersMemory: UnsafeMutableRawPointer, core: EngineCore
    ) throws(EngineError) -> ([Worker], [[Int]]) {
        var workers: [Worker] = []
        var groupWorkers: [[Int]] = []
        for (g, group) in plan.groups.enumerated() {
            var indices: [Int] = []
            for w in 0..<group.workers {
                let index = workers.count
                let ring: SubmissionRing
                do { ring = try SubmissionRing(capacity: configuration.ringCapacity) } catch { throw .configuration(error) }
                workers.append(Worker(
                    index: index, groupIndex: g, name: "rtio-\(group.name)-\(w)",
                    requestedCPUs: group.requestedCPUs(worker: w), requestedScheduling: group.scheduling,
                    stackSize: group.stackSize, stackPrefaultBytes: group.stackPrefaultBytes,
                    ioPriority: plan.ioPriorities[g], inFlight: group.inFlight, ring: ring,
                    completions: CompletionRing(minimumCapacity: configuration.requestsInFlight),
                    counters: WorkerCounters(initializing: countersMemory + index * WorkerCounters.byteCount),
                    core: core))
                indices.append(index)
            }
            groupWorkers.append(indices)
        }
        return (workers, groupWorkers)
    }

    /// Creates each worker's thread with its CPUs and scheduling; a worker
    /// without requested CPUs is born with `unpinned` (the process's allowed
    /// CPUs), so no worker inherits the creating thread's mask. Under
    /// `bestEffort` a refused attribute is dropped (real-time policy first,
    /// then the CPU list, replaced by `unpinned`) and reported; under `required` it throws.
    private static func startWorkers(
        _ workers: [Worker], plan: StartupPlan, unpinned: CPUList, policy: EngineConfiguration.PrivilegePolicy,
        degradations: inout [Degradation]
    ) throws(EngineError) {
        let group = plan.groups
        for worker in workers {
            var attributes = ThreadAttributes(
                cpus: (worker.requestedCPUs ?? unpinned).cpus, scheduling: plan.scheduling[worker.groupIndex],
                stackSize: worker.stackSize, name: worker.name)
            var lastError = Errno.notPermitted
            for attempt in 0..<3 {
                do {
                    worker.thread = try NativeThread.spawn(attributes: attributes, reportingBirth: { worker.run($0) })
                    break
                } catch {
                    lastError = error
                    guard policy == .bestEffort else { break }
                    if attempt == 0, error == .notPermitted, let scheduling = attributes.scheduling, scheduling.isRealtime {
                        degradations.append(Degradation(
                            kind: .scheduling, group: group[worker.groupIndex].name, worker: worker.name,
                            requested: "\(scheduling)", applied: "running other:0", reason: "pthread_create: \(error)",
                            remedy: PrivilegeReport.realtimeRemedy))
                        attributes.scheduling = .other(nice: 0)
                    } else if error == .invalidArgument, let cpus = worker.requestedCPUs, attributes.cpus != unpinned.cpus {
                        degradations.append(Degradation(
                            kind: .cpus, group: group[worker.groupIndex].name, worker: worker.name,
                            requested: "\(cpus)", applied: "using the process's allowed CPUs \(unpinned)",
                            reason: "pthread_create: \(error)"))
                        attributes.cpus = unpinned.cpus
                    } else {
                        break
                    }
                }
            }
            guard worker.thread != nil else {
                if lastError == .notPermitted || lastError == .invalidArgument, policy == .required {
                    throw .insufficientPrivilege(
                        what: "scheduling \(attributes.scheduling.map { "\($0)" } ?? "inherited") / CPUs \(worker.requestedCPUs.map { "\($0)" } ?? "any") for \(worker.name)",
                        reason: "pthread_create: \(lastError)", remedy: PrivilegeReport.realtimeRemedy)
                }
                throw .threadCreation(worker: worker.name, lastError)
            }
            worker.bornWith = attributes
        }
    }

    /// Waits (10 s at most) until every worker has finished its start-up;
    /// returns the first one that did not.
    private static func waitUntilStarted(_ workers: [Worker]) -> Worker? {
        let deadline = rtio_monotonic_ns() + 10_000_000_000
        for worker in workers {
            while worker.started.load(ordering: .acquiring) == 0 {
                if rtio_monotonic_ns() > deadline { return worker }
                usleep(50)
            }
        }
        return nil
    }

    /// Stops and joins whatever was started when `init` fails midway, and
    /// closes the eventfd.
    private static func abandon(workers: [Worker], core: EngineCore) {
        _ = core.claimShutdown()
        core.closeGate()
        core.stopWorkers(.drain)
        for w in workers where w.thread != nil {
            w.ring.wakeup.wakeParked()
            w.thread!.join()
        }
        core.markClosed()
        core.closeEventFD()
    }

    deinit {
        shutdown(.drain)
        core.closeEventFD()
    }

    // MARK: groups

    /// The group with this name, for ``Placement``.
    public func group(named name: String) -> WorkerGroupID? {
        configuration.groups.firstIndex { $0.name == name }.map(WorkerGroupID.init(index:))
    }

    // MARK: shutdown

    /// Stops the engine: refuses new submits, finishes (`.drain`) or cancels
    /// with ECANCELED (`.cancel`) every queued request, joins the workers, and
    /// makes ``completionFD`` readable one last time. Completions still in the
    /// rings stay reapable, and the eventfd stays open (readable) until the
    /// engine is released, so a concurrent ``reap(maximum:rearm:_:)`` never
    /// touches a closed or recycled descriptor.
    ///
    /// Every call returns only after all workers have exited; a call that
    /// finds another shutdown in progress sleeps until that one is done (its
    /// `mode` is then ignored). Safe from any thread but a worker; it never
    /// spins, so a SCHED_FIFO caller lets a preempted lower-priority submitter
    /// on its CPU leave the submit gate.
    public func shutdown(_ mode: ShutdownMode = .drain) {
        guard core.claimShutdown() else {
            core.waitUntilClosed()
            return
        }
        logShutdownBegan(mode)
        core.closeGate()
        core.stopWorkers(mode)
        // Orders the stop before each wake-up's compare-exchange in the abstract model too
        // (the workers' side of the park handshake is sequentially consistent).
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        for worker in workers { worker.ring.wakeup.wakeParked() }
        for worker in workers { worker.thread?.join() }
        // On-demand workers post to the eventfd too: all joined before the last write.
        onDemand?.shutdown(mode)
        statusFile?.unlink()
        logShutdownFinished()
        core.markClosed()
        // Last, after `closed`: a waiter that re-armed (consuming any earlier
        // write) and then still found the engine open is asleep in poll; this
        // write wakes it and it then sees `closed` (waitForCompletions). Written
        // before markClosed, the re-arm could swallow it and the wait never end.
        var one: UInt64 = 1
        _ = Glibc.write(core.eventFD, &one, 8)
    }

    /// True after ``shutdown(_:)`` began.
    public var isShutDown: Bool { core.isClosed }
}
