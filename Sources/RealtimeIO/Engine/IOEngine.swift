import CRealtimeIOShims
import RealtimeIOLinux
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
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
/// (`PTHREAD_EXPLICIT_SCHED`), independent of the calling thread.
///
/// After that, `submit` takes no lock, allocates nothing, and makes no syscall
/// unless the chosen worker is parked. Workers run requests and post
/// completions to per-worker rings; the host learns of them through one
/// coalesced eventfd and collects them with `reap` on its own thread.
///
/// With ``EngineConfiguration/onDemand`` the engine also (or only) runs
/// requests on an ``OnDemandPool``; see ``EngineMode`` and ``OnDemandSettings``.
/// Those workers' completions arrive through the same eventfd and `reap`.
///
/// ## Thread safety
/// `submit` may be called from any number of threads. `reap` may be called
/// from any thread, but one at a time: a concurrent second caller returns 0.
/// `shutdown` may be called from any thread; it is idempotent.
///
/// ## Errors
/// Bad input fails at submit with ``SubmitError`` and enqueues nothing; I/O
/// errors arrive as negative results (`-errno`) in the completion. Every
/// accepted request completes exactly once — also on shutdown.
public final class IOEngine: @unchecked Sendable {
    public let configuration: EngineConfiguration
    let core: EngineCore
    let workers: [Worker]
    /// Engine-wide worker indices of each group, in configuration order.
    let groupWorkers: [[Int]]
    private let countersMemory: UnsafeMutableRawPointer
    /// Owns `countersMemory` when the counters are published (unmapped when released).
    private let statusFile: StatusFile?
    private let roundRobin: UnsafeMutablePointer<Atomic<Int>>
    private let lifecycle = Mutex<Lifecycle>(.running)
    /// What could not be applied as requested (`.bestEffort` only), one line each.
    public let degradations: [String]
    /// The privileges seen at start.
    public let privileges: PrivilegeReport
    /// Which workers run requests: preallocated, on-demand, or both (hybrid).
    public let mode: EngineMode
    /// On-demand workers (on-demand and hybrid modes); see IOEngine+OnDemand.swift.
    let onDemand: OnDemandPool?
    /// On-demand completions waiting for `reap`.
    let onDemandCompletions: OnDemandCompletionQueue?
    /// Requests that overflowed to `onDemand` (``overflowCount``).
    let overflowCounter = Atomic<Int>(0)

    enum Lifecycle { case running, shutDown }

    /// The eventfd that becomes readable when completions are ready for ``reap(maximum:rearm:_:)``.
    /// Closed by ``shutdown(_:)``.
    public var completionFD: FileDescriptor { FileDescriptor(rawValue: core.eventFD) }

    public var workerCount: Int { workers.count }

    /// The status file `rtio-admin` reads (see ``StatusFile``); nil if it could not
    /// be created (``degradations`` says why). Unlinked by ``shutdown(_:)``.
    public var statusFilePath: String? { statusFile?.path }

    /// Starts an engine.
    ///
    /// - Parameters:
    ///   - configuration: validated here; a bad field throws ``EngineError/configuration(_:)``.
    ///   - completionHandler: required with `completionDelivery == .workerHandler`:
    ///     runs on the worker thread for each completion. It must not block.
    ///   - workerStartHook: runs on each worker thread before it takes work.
    /// - Throws: ``EngineError``.
    public init(
        configuration: EngineConfiguration,
        completionHandler: (@Sendable (IOCompletion) -> Void)? = nil,
        workerStartHook: WorkerStartHook? = nil
    ) throws(EngineError) {
        do { try configuration.validate() } catch { throw .configuration(error) }
        if configuration.completionDelivery == .workerHandler && completionHandler == nil {
            throw .configuration(ConfigurationError(
                field: "completionDelivery", problem: "workerHandler without a completion handler",
                remedy: "pass completionHandler: to IOEngine.init, or use \"eventfd\""))
        }
        self.configuration = configuration
        let report = PrivilegeReport.current()
        privileges = report
        var degradations: [String] = []

        // 1. Privileges, before anything is created.
        var scheduling: [SchedulingPolicy] = []
        var realtimeRefused: String? = nil
        for group in configuration.groups {
            let verdict: PrivilegeVerdict
            switch group.scheduling {
            case .fifo(let p), .rr(let p): verdict = report.canUseRealtimePriority(p)
            case .other(let n): verdict = report.canSetNice(n)
            case .batch, .idle, .deadline:
                // validate() refused these above; never reached.
                verdict = .denied("\(group.scheduling) is not a worker policy", remedy: "use fifo, rr or other")
            }
            if verdict.allowed {
                scheduling.append(group.scheduling)
            } else if configuration.privilegePolicy == .required {
                throw .insufficientPrivilege(
                    what: "scheduling \(group.scheduling) for group '\(group.name)'", reason: verdict.reason,
                    remedy: verdict.remedy ?? "")
            } else if configuration.onDemand?.degradeToOnDemand == true, group.scheduling.isRealtime {
                scheduling.append(.other(nice: 0))
                realtimeRefused = realtimeRefused ?? "group \(group.name): scheduling \(group.scheduling) not applied (\(verdict.reason))"
            } else {
                scheduling.append(.other(nice: 0))
                degradations.append("group \(group.name): scheduling \(group.scheduling) not applied (\(verdict.reason)); workers run other:0")
            }
        }
        // The groups that get preallocated workers: none in on-demand mode, also when
        // `degradeToOnDemand` replaces workers that cannot get real-time scheduling.
        var effective = configuration
        if let refused = realtimeRefused {
            degradations.append("\(refused); started in on-demand mode instead (onDemand.degradeToOnDemand)")
            effective.groups = []
        }
        let groups = effective.groups
        if groups.isEmpty {
            mode = .onDemand
        } else if configuration.onDemand?.overflow == true {
            mode = .hybrid
        } else {
            mode = .preallocated
        }
        var lockFlags: Int32 = 0
        switch configuration.memoryLocking {
        case .none: break
        case .current: lockFlags = MCL_CURRENT
        case .currentAndFuture: lockFlags = MCL_CURRENT | MCL_FUTURE
        case .onFault: lockFlags = MCL_CURRENT | MCL_FUTURE | 4 /* MCL_ONFAULT */
        }
        if lockFlags != 0 {
            let verdict = report.canLockMemory(bytes: nil)
            if !verdict.allowed {
                if configuration.privilegePolicy == .required {
                    throw .insufficientPrivilege(
                        what: "memory locking \(configuration.memoryLocking.rawValue)", reason: verdict.reason,
                        remedy: verdict.remedy ?? "")
                }
                degradations.append("memory locking \(configuration.memoryLocking.rawValue) not applied (\(verdict.reason))")
                lockFlags = 0
            }
        }

        // 2. Everything preallocated and touched.
        let slab: RequestSlab
        do { slab = try RequestSlab(count: configuration.requestsInFlight) } catch {
            throw .configuration(ConfigurationError(field: "requestsInFlight", problem: "\(error)", remedy: "use 1...1048576"))
        }
        let efd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard efd >= 0 else { throw .eventFD(Errno(rawValue: errno)) }
        let core = EngineCore(
            slab: slab, eventFD: efd, spinBudgetNanoseconds: Int64(configuration.spinBudgetNanoseconds),
            spinDutyCyclePercent: configuration.spinDutyCyclePercent, dutyCycleRest: configuration.dutyCycleRest,
            delivery: configuration.completionDelivery, handler: completionHandler, workerStartHook: workerStartHook)
        self.core = core
        let total = effective.workerCount
        do {
            let file = try StatusFile(configuration: effective)
            statusFile = file
            countersMemory = file.countersMemory
        } catch {
            statusFile = nil
            degradations.append("status file not published (\(error)); rtio-admin cannot see this engine")
            countersMemory = .allocate(byteCount: max(1, total) * WorkerCounters.byteCount, alignment: CacheLine.separation)
        }
        roundRobin = .allocate(capacity: max(1, groups.count))
        for g in 0..<groups.count { (roundRobin + g).initialize(to: Atomic(0)) }
        var workers: [Worker] = []
        var groupWorkers: [[Int]] = []
        for (g, group) in groups.enumerated() {
            var indices: [Int] = []
            for w in 0..<group.workers {
                let index = workers.count
                let ring: SubmissionRing
                do { ring = try SubmissionRing(capacity: configuration.ringCapacity) } catch {
                    throw .configuration(ConfigurationError(field: "ringCapacity", problem: "\(error)", remedy: "use a power of two"))
                }
                workers.append(Worker(
                    index: index, groupIndex: g, name: "rtio-\(group.name)-\(w)",
                    requestedCPUs: group.requestedCPUs(worker: w), requestedScheduling: group.scheduling,
                    stackPrefaultBytes: group.stackPrefaultBytes, ring: ring,
                    completions: CompletionRing(minimumCapacity: configuration.requestsInFlight),
                    counters: WorkerCounters(initializing: countersMemory + index * WorkerCounters.byteCount),
                    core: core))
                indices.append(index)
            }
            groupWorkers.append(indices)
        }
        self.workers = workers
        self.groupWorkers = groupWorkers

        // 3. Lock memory: before the threads for MCL_FUTURE (their stacks are then locked too).
        if lockFlags != 0 {
            if mlockall(lockFlags) != 0 {
                let e = Errno(rawValue: errno)
                if configuration.privilegePolicy == .required {
                    Self.abandon(workers: [], core: core)
                    throw .insufficientPrivilege(
                        what: "memory locking \(configuration.memoryLocking.rawValue)", reason: "mlockall: \(e)",
                        remedy: PrivilegeReport.memlockRemedy)
                }
                degradations.append("memory locking \(configuration.memoryLocking.rawValue) failed: mlockall: \(e)")
            } else if configuration.tuneMalloc {
                _ = rtio_malloc_keep_heap()
            }
        }

        // 4. Workers, born with their attributes.
        for worker in workers {
            let group = groups[worker.groupIndex]
            var attributes = ThreadAttributes(
                cpus: worker.requestedCPUs?.cpus, scheduling: scheduling[worker.groupIndex],
                stackSize: group.stackSize, name: worker.name)
            var thread: NativeThread?
            var lastError = Errno.notPermitted
            for attempt in 0..<3 {
                do {
                    thread = try NativeThread.spawn(attributes: attributes) { worker.run() }
                    break
                } catch {
                    lastError = error
                    guard configuration.privilegePolicy == .bestEffort else { break }
                    if attempt == 0, error == .notPermitted, attributes.scheduling?.isRealtime == true {
                        degradations.append("\(worker.name): \(attributes.scheduling!) refused (\(error)); running other:0")
                        attributes.scheduling = .other(nice: 0)
                    } else if error == .invalidArgument, attributes.cpus != nil {
                        degradations.append("\(worker.name): CPUs \(worker.requestedCPUs!) refused (\(error)); using the process's CPUs")
                        attributes.cpus = nil
                    } else {
                        break
                    }
                }
            }
            guard let thread else {
                Self.abandon(workers: workers, core: core)
                if lastError == .notPermitted || lastError == .invalidArgument, configuration.privilegePolicy == .required {
                    throw .insufficientPrivilege(
                        what: "scheduling \(attributes.scheduling.map { "\($0)" } ?? "inherited") / CPUs \(worker.requestedCPUs.map { "\($0)" } ?? "any") for \(worker.name)",
                        reason: "pthread_create: \(lastError)", remedy: PrivilegeReport.realtimeRemedy)
                }
                throw .threadCreation(worker: worker.name, lastError)
            }
            worker.thread = thread
            worker.bornWith = attributes
        }

        // 4b. The on-demand pool (no worker yet; with "spawnerThread", its spawner thread).
        if mode != .preallocated, let settings = configuration.onDemand {
            do {
                let (pool, queue) = try Self.makeOnDemandPool(settings: settings, core: core)
                onDemand = pool
                onDemandCompletions = queue
            } catch {
                Self.abandon(workers: workers, core: core)
                throw error
            }
        } else {
            onDemand = nil
            onDemandCompletions = nil
        }
        self.degradations = degradations

        // 5. Wait until every worker runs (tid known, stack touched).
        let deadline = rtio_monotonic_ns() + 10_000_000_000
        for worker in workers {
            while worker.started.load(ordering: .acquiring) == 0 {
                if rtio_monotonic_ns() > deadline {
                    onDemand?.shutdown(.cancel)
                    Self.abandon(workers: workers, core: core)
                    throw .workerStartTimeout(worker: worker.name)
                }
                usleep(50)
            }
        }
    }

    /// Stops and joins whatever was started when `init` fails midway.
    private static func abandon(workers: [Worker], core: EngineCore) {
        _ = core.closeGate()
        core.stopFlag.pointee.store(true, ordering: .sequentiallyConsistent)
        for w in workers where w.thread != nil {
            w.ring.wakeup.wakeParked()
            w.thread!.join()
        }
        close(core.eventFD)
    }

    deinit {
        shutdown(.drain)
        if statusFile == nil { countersMemory.deallocate() }  // else unmapped when statusFile is released
        roundRobin.deallocate()
    }

    // MARK: groups

    /// The group with this name, for ``Placement``.
    public func group(named name: String) -> WorkerGroupID? {
        configuration.groups.firstIndex { $0.name == name }.map(WorkerGroupID.init(index:))
    }

    // MARK: submit

    /// Queues one request; its completion carries `tag`.
    ///
    /// No lock, no allocation; a syscall only to wake a parked worker.
    /// - Throws: ``SubmitError``; nothing was enqueued.
    @inlinable
    public func submit(_ request: IORequest, tag: UInt64, placement: Placement = .leastLoaded) throws(SubmitError) {
        try submit(request, tag: tag, placement: placement, continuation: nil)
    }

    @usableFromInline
    func submit(
        _ request: IORequest, tag: UInt64, placement: Placement, continuation: UnsafeMutableRawPointer?
    ) throws(SubmitError) {
        try Self.validate(request)
        let target = try chooseWorker(placement)
        guard core.enterSubmit() else { throw .shutDown }
        defer { core.leaveSubmit() }
        guard let slot = core.slab.acquire() else { throw .full }
        let record = core.slab.record(slot)
        Self.fill(record, with: request)
        record.pointee.tag = tag
        record.pointee.worker = UInt16(truncatingIfNeeded: target)
        record.pointee.continuation = continuation
        if continuation != nil { record.pointee.flags |= RequestFlags.resumesContinuation }
        record.pointee.submittedAt = rtio_monotonic_ns()
        if target == Self.onDemandTarget {
            try submitOnDemand(slot)
            return
        }
        guard workers[target].ring.tryPush(UInt64(slot)) else {
            // Hybrid: the chosen ring is full; overflow to the on-demand pool. Slots are
            // shared: with none free the submit failed with .full above (no reserve).
            if onDemand != nil, mayOverflow(placement) {
                try submitOnDemand(slot)
                overflowCounter.add(1, ordering: .relaxed)
                return
            }
            core.slab.release(slot)
            throw .full
        }
    }

    /// Hands a filled slot to the on-demand pool; releases it if refused.
    @usableFromInline
    func submitOnDemand(_ slot: UInt32) throws(SubmitError) {
        do {
            try onDemand!.submit(slot)
        } catch {
            core.slab.release(slot)
            throw error
        }
    }

    @usableFromInline
    static func validate(_ request: IORequest) throws(SubmitError) {
        func range(_ offset: Int64, _ length: Int64) throws(SubmitError) {
            guard offset >= 0, length >= 0, length <= Int64.max - offset else {
                throw .invalidRange(offset: offset, length: length)
            }
        }
        switch request {
        case .read(_, let buffer, let offset): try range(offset, Int64(buffer.count))
        case .write(_, let buffer, let offset): try range(offset, Int64(buffer.count))
        case .readv(_, let iov, let offset), .writev(_, let iov, let offset):
            guard iov.count <= 1024 else { throw .tooManyIOVecs(iov.count) }
            var total: Int64 = 0
            for v in iov {
                let (sum, overflow) = total.addingReportingOverflow(Int64(v.iov_len))
                guard !overflow else { throw .invalidRange(offset: offset, length: Int64.max) }
                total = sum
            }
            try range(offset, total)
        case .fallocate(_, _, let offset, let length): try range(offset, length)
        case .fsync, .fdatasync, .custom: break
        }
    }

    @usableFromInline
    static func fill(_ r: UnsafeMutablePointer<RequestRecord>, with request: IORequest) {
        r.pointee.flags = 0
        r.pointee.mode = 0
        r.pointee.offset = 0
        r.pointee.length = 0
        r.pointee.buffer = nil
        r.pointee.custom = nil
        switch request {
        case .read(let fd, let buffer, let offset):
            r.pointee.opcode = .read
            r.pointee.fd = fd.rawValue
            r.pointee.buffer = buffer.baseAddress
            r.pointee.length = buffer.count
            r.pointee.offset = offset
        case .write(let fd, let buffer, let offset):
            r.pointee.opcode = .write
            r.pointee.fd = fd.rawValue
            r.pointee.buffer = UnsafeMutableRawPointer(mutating: buffer.baseAddress)
            r.pointee.length = buffer.count
            r.pointee.offset = offset
        case .readv(let fd, let iov, let offset), .writev(let fd, let iov, let offset):
            if case .readv = request { r.pointee.opcode = .readv } else { r.pointee.opcode = .writev }
            r.pointee.fd = fd.rawValue
            r.pointee.offset = offset
            r.pointee.length = iov.count
            if iov.count <= RequestRecord.inlineIOVecCapacity {
                r.pointee.flags |= RequestFlags.inlineIOVecs
                withUnsafeMutablePointer(to: &r.pointee.inlineIOVecs) { tuple in
                    tuple.withMemoryRebound(to: iovec.self, capacity: RequestRecord.inlineIOVecCapacity) { dst in
                        for i in 0..<iov.count { dst[i] = iov[i] }
                    }
                }
            } else {
                r.pointee.buffer = UnsafeMutableRawPointer(mutating: iov.baseAddress)
            }
        case .fsync(let fd):
            r.pointee.opcode = .fsync
            r.pointee.fd = fd.rawValue
        case .fdatasync(let fd):
            r.pointee.opcode = .fdatasync
            r.pointee.fd = fd.rawValue
        case .fallocate(let fd, let mode, let offset, let length):
            r.pointee.opcode = .fallocate
            r.pointee.fd = fd.rawValue
            r.pointee.mode = mode.flags
            r.pointee.offset = offset
            r.pointee.length = Int(length)
        case .custom(let function, let context):
            r.pointee.opcode = .custom
            r.pointee.custom = function
            r.pointee.buffer = context
        }
    }

    @usableFromInline
    func chooseWorker(_ placement: Placement) throws(SubmitError) -> Int {
        if workers.isEmpty {
            // On-demand mode: any placement but one naming a worker goes to the pool.
            if case .worker(let index) = placement { throw .noSuchWorker(index) }
            return Self.onDemandTarget
        }
        switch placement {
        case .worker(let index):
            guard index >= 0, index < workers.count else { throw .noSuchWorker(index) }
            return index
        case .leastLoaded:
            return leastLoaded(0, workers.count - 1)
        case .leastLoadedIn(let group):
            guard group.index >= 0, group.index < groupWorkers.count else { throw .noSuchWorker(group.index) }
            let members = groupWorkers[group.index]
            return leastLoaded(members[0], members[members.count - 1])
        case .roundRobin(let group):
            guard group.index >= 0, group.index < groupWorkers.count else { throw .noSuchWorker(group.index) }
            let members = groupWorkers[group.index]
            let n = roundRobin[group.index].add(1, ordering: .relaxed).oldValue
            return members[n % members.count]
        }
    }

    /// The worker with the fewest queued entries among `first...last`; ties go
    /// to the lowest index (a lightly loaded engine keeps one worker hot and
    /// lets the others park). Index loops, not iterators: unspecialised generic
    /// iteration allocates coroutine frames in debug builds.
    @inline(__always)
    func leastLoaded(_ first: Int, _ last: Int) -> Int {
        var best = first
        var bestDepth = Int.max
        var i = first
        while i <= last {
            let depth = workers[i].ring.approximateCount
            if depth < bestDepth {
                best = i
                bestDepth = depth
                if depth == 0 { break }
            }
            i += 1
        }
        return best
    }

    // MARK: reap

    /// Delivers up to `maximum` completions to `body` on the calling thread and
    /// frees their slots. Returns how many were delivered.
    ///
    /// With `rearm` (the default, for hosts that sleep on ``completionFD``): when
    /// it finds nothing, it re-arms the eventfd — reads (resets) the counter if
    /// a notification was sent, clears the notified flag, and re-checks — so the
    /// next completion makes the fd readable. Hosts that poll `reap` in a loop pass `rearm: false`: workers
    /// then never write the eventfd and neither side makes a syscall.
    ///
    /// One caller at a time: a second concurrent caller returns 0 at once.
    /// Runs ``processEvents()`` first (on-demand spawns of a `hostLoop` pool).
    @discardableResult
    public func reap(maximum: Int = .max, rearm: Bool = true, _ body: (IOCompletion) -> Void) -> Int {
        processEvents()
        guard !core.reaping.pointee.exchange(true, ordering: .acquiring) else { return 0 }
        defer { core.reaping.pointee.store(false, ordering: .releasing) }
        var delivered = drainCompletions(maximum: maximum, body)
        if delivered == 0 && rearm {
            core.rearmHostNotification()
            delivered = drainCompletions(maximum: maximum, body)
        }
        return delivered
    }

    @inline(__always)
    private func drainCompletions(maximum: Int, _ body: (IOCompletion) -> Void) -> Int {
        var delivered = 0
        let slab = core.slab
        var w = 0
        let count = workers.count
        while w < count && delivered < maximum {
            let worker = workers[w]
            delivered += worker.completions.drain(maximum: maximum - delivered) { slot in
                let r = slab.record(slot)
                let completion = IOCompletion(tag: r.pointee.tag, result: r.pointee.result, worker: worker.index)
                slab.release(slot)
                body(completion)
            }
            w += 1
        }
        if delivered < maximum {
            delivered += drainOnDemandCompletions(maximum: maximum - delivered, body)
        }
        return delivered
    }

    // MARK: shutdown

    /// Stops the engine: refuses new submits, finishes (`.drain`) or cancels
    /// with ECANCELED (`.cancel`) every queued request, joins the workers and
    /// closes the eventfd. Completions still in the rings stay reapable.
    /// Idempotent; safe from any thread but a worker.
    public func shutdown(_ mode: ShutdownMode = .drain) {
        let first = lifecycle.withLock { state -> Bool in
            guard state == .running else { return false }
            state = .shutDown
            return true
        }
        guard first else { return }
        _ = core.closeGate()
        if mode == .cancel { core.cancelFlag.pointee.store(true, ordering: .relaxed) }
        core.stopFlag.pointee.store(true, ordering: .sequentiallyConsistent)
        for worker in workers { worker.ring.wakeup.wakeParked() }
        for worker in workers { worker.thread?.join() }
        // On-demand workers post to the eventfd too: all joined before it closes.
        onDemand?.shutdown(mode)
        var one: UInt64 = 1
        _ = Glibc.write(core.eventFD, &one, 8)  // wake a host blocked in poll to reap the last completions
        core.markEventFDClosed()
        close(core.eventFD)
        statusFile?.unlink()
    }

    /// True after ``shutdown(_:)`` began.
    public var isShutDown: Bool { core.isClosed }
}
