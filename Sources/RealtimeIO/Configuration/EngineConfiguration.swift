import RealtimeIOLinux

/// Everything an ``IOEngine`` is built from.
///
/// Load one from JSON with ``init(json:)`` (the same loader serves Swift hosts,
/// the C ABI and the POSIX AIO drop-in), or build it in Swift. ``validate()``
/// checks it against this machine; ``IOEngine/init(configuration:workerStartHook:)``
/// validates again before it creates anything.
///
/// ```json
/// {"groups":[{"name":"io","workers":2,"cpus":"1","scheduling":{"fifo":40}}],
///  "ringCapacity":256,"requestsInFlight":1024,"memoryLocking":"currentAndFuture",
///  "privilegePolicy":"bestEffort","spinBudgetNanoseconds":50000,"realtimeSharePercent":50}
/// ```
///
/// Time settings are `Duration` in Swift; JSON keeps plain numbers and names
/// the unit in the key (`spinBudgetNanoseconds`, `idleTimeoutSeconds`).
///
/// With ``onDemand`` the engine also (or only) runs requests on workers created
/// on demand: with no groups (on-demand mode), as the overflow of full rings
/// (hybrid mode), or instead of workers that cannot get real-time scheduling.
public struct EngineConfiguration: Sendable, Codable, Equatable {
    /// A set of identical workers: same CPUs (or one CPU list per worker), same scheduling.
    public struct WorkerGroup: Sendable, Codable, Equatable {
        /// Group name; threads are named `rtio-<name>-<n>` (at most 15 bytes).
        public var name: String
        /// Number of workers, 1...``Limits/workersPerGroup``.
        public var workers: Int
        /// CPUs every worker of the group may run on; must be within the
        /// process's allowed CPUs (validated).
        ///
        /// nil: each worker is born with the process's allowed CPUs — its
        /// cpuset cgroup's effective CPUs (v2 `cpuset.cpus.effective`, v1
        /// `cpuset.effective_cpus`) ∩ the online CPUs, without the CPUs isolated
        /// by `isolcpus=` unless that leaves none; the online CPUs when no cpuset
        /// is readable. Never the mask of the thread that creates the engine.
        public var cpus: CPUList?
        /// One CPU list per worker (overrides `cpus`); count must equal `workers`.
        public var workerCPUs: [CPUList]?
        /// Scheduling each worker is born with (`fifo`, `rr` or `other`).
        public var scheduling: SchedulingPolicy
        /// Worker stack size in bytes.
        public var stackSize: Int
        /// Bytes of each worker's stack touched at start so it never faults later.
        public var stackPrefaultBytes: Int
        /// The I/O priority (`ionice` class and level) each worker sets before it
        /// takes work; nil: class NONE, derived from the CPU scheduling (never
        /// the creating thread's I/O priority). `realtime` needs CAP_SYS_NICE.
        public var ioPriority: IOPriority?
        /// Requests each worker keeps in flight, 1...``Limits/inFlightPerWorker``.
        ///
        /// 1 (the default): a worker runs one request at a time with a blocking
        /// syscall (`pread`, `pwrite`, …) on its own thread, in the order it
        /// dequeues them. More: each worker owns an io_uring, created on its
        /// thread at start, and keeps up to this many requests in the kernel at
        /// once — reads and writes of a device proceed in parallel while the
        /// worker stays one pinned, prioritised thread. Requests then overlap
        /// and may complete out of order, as across the workers of a group;
        /// `custom` requests still run on the thread. Needs io_uring with
        /// `IORING_OP_FUTEX_WAIT` (Linux 6.7); without it, `bestEffort` runs
        /// one at a time and reports a ``Degradation``, `required` fails.
        public var inFlight: Int

        /// A group; the defaults are those a JSON object without the field gets.
        public init(
            name: String, workers: Int, cpus: CPUList? = nil, workerCPUs: [CPUList]? = nil,
            scheduling: SchedulingPolicy = .other(nice: 0), stackSize: Int = 256 * 1024,
            stackPrefaultBytes: Int = 64 * 1024, ioPriority: IOPriority? = nil, inFlight: Int = 1
        ) {
            self.name = name
            self.workers = workers
            self.cpus = cpus
            self.workerCPUs = workerCPUs
            self.scheduling = scheduling
            self.stackSize = stackSize
            self.stackPrefaultBytes = stackPrefaultBytes
            self.ioPriority = ioPriority
            self.inFlight = inFlight
        }

        /// The CPUs requested for worker `index` of this group, if any.
        public func requestedCPUs(worker index: Int) -> CPUList? {
            workerCPUs?[index] ?? cpus
        }

        enum CodingKeys: String, CodingKey {
            case name, workers, cpus, workerCPUs, scheduling, stackSize, stackPrefaultBytes, ioPriority, inFlight
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let defaults = WorkerGroup(name: "", workers: 1)
            name = try c.decode(String.self, forKey: .name)
            workers = try c.decode(Int.self, forKey: .workers)
            cpus = try c.decodeIfPresent(CPUList.self, forKey: .cpus)
            workerCPUs = try c.decodeIfPresent([CPUList].self, forKey: .workerCPUs)
            scheduling = try c.decodeIfPresent(SchedulingPolicy.self, forKey: .scheduling) ?? defaults.scheduling
            stackSize = try c.decodeIfPresent(Int.self, forKey: .stackSize) ?? defaults.stackSize
            stackPrefaultBytes = try c.decodeIfPresent(Int.self, forKey: .stackPrefaultBytes) ?? defaults.stackPrefaultBytes
            ioPriority = try c.decodeIfPresent(IOPriority.self, forKey: .ioPriority)
            inFlight = try c.decodeIfPresent(Int.self, forKey: .inFlight) ?? defaults.inFlight
        }
    }

    /// Memory locking: process-wide; see ``ProcessMemory``. As a configuration
    /// field, engine creation applies it (the C ABI and drop-in path).
    public enum MemoryLocking: String, Sendable, Codable, Equatable {
        /// No locking (pages may be swapped; first touches fault).
        case none
        /// mlockall(MCL_CURRENT): what is mapped at start stays resident.
        case current
        /// mlockall(MCL_CURRENT | MCL_FUTURE): also everything mapped later.
        case currentAndFuture
        /// mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT): lock pages as they are first touched.
        case onFault
    }

    /// What to do when a requested CPU, policy or memory lock cannot be applied.
    public enum PrivilegePolicy: String, Sendable, Codable, Equatable {
        /// Throw, naming what is missing and how to grant it.
        case required
        /// Start with what can be applied; report each difference as a ``Degradation``.
        case bestEffort
    }

    /// Where completions go; the handler travels with the choice, so a
    /// handler without worker delivery (or the reverse) cannot be expressed.
    ///
    /// JSON: `"completionDelivery": "eventfd"` (or `"completionRing"`) is
    /// ``completionRing``. A handler cannot be written in JSON: `"workerHandler"`
    /// is refused by the loader (set ``workerHandler(_:)`` in Swift).
    /// Two `workerHandler` values compare equal whatever their handlers
    /// (closures cannot be compared).
    public enum CompletionDelivery: Sendable, Codable, Equatable {
        /// Per-worker completion rings and one coalesced eventfd the host polls
        /// (``IOEngine/completionFD``); the host calls `reap`.
        case completionRing
        /// `handler` runs on the worker thread for each completion, which is
        /// then freed; the rings and the eventfd stay unused. It must not block.
        case workerHandler(@Sendable (IOCompletion) -> Void)

        /// The worker handler, if any.
        public var handler: (@Sendable (IOCompletion) -> Void)? {
            if case .workerHandler(let handler) = self { return handler }
            return nil
        }

        /// Same case (handlers are not compared).
        public static func == (a: Self, b: Self) -> Bool {
            switch (a, b) {
            case (.completionRing, .completionRing), (.workerHandler, .workerHandler): return true
            default: return false
            }
        }

        /// Decodes `"eventfd"` or `"completionRing"`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            let name = try c.decode(String.self)
            switch name {
            case "eventfd", "completionRing": self = .completionRing
            default:
                throw DecodingError.dataCorruptedError(
                    in: c, debugDescription: name == "workerHandler"
                        ? "\"workerHandler\" needs a handler, which JSON cannot carry: use \"eventfd\", or set .workerHandler(handler) in Swift"
                        : "unknown value \"\(name)\"; use \"eventfd\"")
            }
        }

        /// Encodes `"eventfd"` or `"workerHandler"`.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(handler == nil ? "eventfd" : "workerHandler")
        }
    }

    /// What a real-time worker does once it has used its ``realtimeSharePercent``
    /// of a window and has nothing to do.
    public enum RealtimeShareRest: String, Sendable, Codable, Equatable, CaseIterable {
        /// Sleep in timed slices of ``EngineConfiguration/realtimeShareRestSlice``
        /// until the window ends, checking the ring between slices (the
        /// default). The worker keeps its policy and never announces itself
        /// parked, so a submit during a rest makes no syscall; a request that
        /// arrives waits at most one slice plus the timer's wake-up. A worker
        /// that has had nothing to do for its ``EngineConfiguration/spinBudget``
        /// is idle, not resting: it parks, and the next submit wakes it.
        case slices
        /// Park on the futex for the rest of the window; each request that
        /// arrives meanwhile makes its submitter call `futex_wake` and waits
        /// for the worker's wake-up.
        case park
        /// Keep polling for the rest of the window as SCHED_OTHER (nice 0),
        /// then take the real-time policy back. Two `sched_setattr` calls per
        /// window; tools that read the policy see SCHED_OTHER during a rest.
        /// Workers that are not real-time park, as with ``park``.
        case demote
    }

    /// The worker groups, in order: ``WorkerGroupID``s and worker indices follow it. Empty only in on-demand mode.
    public var groups: [WorkerGroup]
    /// Submission-ring cells per worker: a power of two in 2...``Limits/ringCapacity``.
    public var ringCapacity: Int
    /// Request slots (requests accepted and not yet reaped), engine-wide: 1...``Limits/requestsInFlight``.
    public var requestsInFlight: Int
    /// `mlockall` at start (default ``MemoryLocking/none``).
    public var memoryLocking: MemoryLocking
    /// Throw or degrade when something cannot be applied (default ``PrivilegePolicy/bestEffort``).
    public var privilegePolicy: PrivilegePolicy
    /// How long an idle worker spins before it parks (zero: park at once; at most 1 s).
    /// JSON: `spinBudgetNanoseconds`.
    public var spinBudget: Duration
    /// Where completions go (default ``CompletionDelivery/completionRing``).
    public var completionDelivery: CompletionDelivery
    /// With memory locked: keep freed heap memory (M_MMAP_MAX=0, M_TRIM_THRESHOLD=-1).
    public var tuneMalloc: Bool
    /// The share (1...100 %) of each 10 ms window a worker may run with its
    /// configured policy — spinning or serving requests. Past it the worker
    /// rests until the window ends: with requests waiting, a real-time worker
    /// serves them demoted to SCHED_OTHER; with an empty ring it rests as
    /// ``realtimeShareRest`` says. The share keeps a saturated SCHED_FIFO
    /// worker from owning its CPU and from running into the kernel's RT
    /// throttle (`sched_rt_runtime_us`). 100 = no limit.
    /// JSON: `realtimeSharePercent` (the older key `spinDutyCyclePercent` is still read).
    public var realtimeSharePercent: Int
    /// How a real-time worker rests past its share. JSON: `realtimeShareRest`
    /// (the older key `dutyCycleRest` is still read).
    public var realtimeShareRest: RealtimeShareRest
    /// The longest timed sleep of a ``RealtimeShareRest/slices`` rest: the most a
    /// request that arrives during a rest waits before the worker looks
    /// (plus the timer's wake-up latency). Shorter slices answer sooner and
    /// cost more timer wake-ups (one per slice of rest); default 10 µs, within
    /// ``Limits/realtimeShareRestSlice``. At 20 000 reads/s with an 85 % share
    /// (rtio-bench), slices of 10/20/50/100 µs gave p99 25/35–43/65/112 µs.
    /// JSON: `realtimeShareRestSliceNanoseconds`.
    public var realtimeShareRestSlice: Duration
    /// On-demand workers (fallback mode, overflow, degradation); nil: preallocated workers only.
    public var onDemand: OnDemand?
    /// While the chosen worker sleeps in a ``RealtimeShareRest/slices`` rest
    /// with nothing queued, a ``IORequest/read(_:into:at:)`` is tried on the
    /// submitting thread with `preadv2(RWF_NOWAIT)` — it copies from the page
    /// cache and never waits for the device or a lock — instead of waiting
    /// for the rest to end. A read served so completes through the same
    /// delivery (``IOEngine/reap(maximum:rearm:_:)``, ``IOEngine/completionFD``)
    /// with ``IOCompletion/worker`` nil; one that is not cached (`EAGAIN`),
    /// short, or refused is queued as usual. Applies only with
    /// ``CompletionDelivery/completionRing`` delivery and to `submit` (not
    /// `perform` or batches). Default true. The price: during a worker's rest
    /// (100 − ``realtimeSharePercent`` % of the time, under load) a submit
    /// costs one `preadv2` and, if the host has re-armed, one eventfd write.
    /// JSON: `submitterReadsDuringRest`.
    public var submitterReadsDuringRest: Bool

    /// A configuration; the defaults are those a JSON document without the field gets.
    public init(
        groups: [WorkerGroup], ringCapacity: Int = 256, requestsInFlight: Int = 1024,
        memoryLocking: MemoryLocking = .none, privilegePolicy: PrivilegePolicy = .bestEffort,
        spinBudget: Duration = .microseconds(50), completionDelivery: CompletionDelivery = .completionRing,
        tuneMalloc: Bool = true, onDemand: OnDemand? = nil, realtimeSharePercent: Int = 50,
        realtimeShareRest: RealtimeShareRest = .slices, realtimeShareRestSlice: Duration = .microseconds(10),
        submitterReadsDuringRest: Bool = true
    ) {
        self.groups = groups
        self.ringCapacity = ringCapacity
        self.requestsInFlight = requestsInFlight
        self.memoryLocking = memoryLocking
        self.privilegePolicy = privilegePolicy
        self.spinBudget = spinBudget
        self.completionDelivery = completionDelivery
        self.tuneMalloc = tuneMalloc
        self.onDemand = onDemand
        self.realtimeSharePercent = realtimeSharePercent
        self.realtimeShareRest = realtimeShareRest
        self.realtimeShareRestSlice = realtimeShareRestSlice
        self.submitterReadsDuringRest = submitterReadsDuringRest
    }

    /// Total workers over all groups.
    public var workerCount: Int { groups.reduce(0) { $0 + $1.workers } }

    /// Longest group name that keeps `rtio-<group>-<n>` within the kernel's 15-byte thread name.
    public static func maximumGroupNameLength(workers: Int) -> Int {
        15 - "rtio-".utf8.count - 1 - String(max(0, workers - 1)).utf8.count
    }
}

// MARK: - Codable

extension EngineConfiguration {
    enum CodingKeys: String, CodingKey {
        case groups, ringCapacity, requestsInFlight, memoryLocking, privilegePolicy
        case spinBudgetNanoseconds, completionDelivery, tuneMalloc, onDemand
        case realtimeSharePercent, realtimeShareRest, realtimeShareRestSliceNanoseconds, submitterReadsDuringRest
        // Earlier names, still decoded.
        case spinDutyCyclePercent, dutyCycleRest
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = EngineConfiguration(groups: [])
        groups = try c.decode([WorkerGroup].self, forKey: .groups)
        ringCapacity = try c.decodeIfPresent(Int.self, forKey: .ringCapacity) ?? d.ringCapacity
        requestsInFlight = try c.decodeIfPresent(Int.self, forKey: .requestsInFlight) ?? d.requestsInFlight
        memoryLocking = try c.decodeIfPresent(MemoryLocking.self, forKey: .memoryLocking) ?? d.memoryLocking
        privilegePolicy = try c.decodeIfPresent(PrivilegePolicy.self, forKey: .privilegePolicy) ?? d.privilegePolicy
        spinBudget = try c.decodeIfPresent(Int64.self, forKey: .spinBudgetNanoseconds).map(Duration.nanoseconds) ?? d.spinBudget
        completionDelivery = try c.decodeIfPresent(CompletionDelivery.self, forKey: .completionDelivery) ?? d.completionDelivery
        tuneMalloc = try c.decodeIfPresent(Bool.self, forKey: .tuneMalloc) ?? d.tuneMalloc
        onDemand = try c.decodeIfPresent(OnDemand.self, forKey: .onDemand)
        realtimeSharePercent = try c.decodeIfPresent(Int.self, forKey: .realtimeSharePercent)
            ?? c.decodeIfPresent(Int.self, forKey: .spinDutyCyclePercent) ?? d.realtimeSharePercent
        realtimeShareRest = try c.decodeIfPresent(RealtimeShareRest.self, forKey: .realtimeShareRest)
            ?? c.decodeIfPresent(RealtimeShareRest.self, forKey: .dutyCycleRest) ?? d.realtimeShareRest
        realtimeShareRestSlice = try c.decodeIfPresent(Int64.self, forKey: .realtimeShareRestSliceNanoseconds)
            .map(Duration.nanoseconds) ?? d.realtimeShareRestSlice
        submitterReadsDuringRest = try c.decodeIfPresent(Bool.self, forKey: .submitterReadsDuringRest) ?? d.submitterReadsDuringRest
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(groups, forKey: .groups)
        try c.encode(ringCapacity, forKey: .ringCapacity)
        try c.encode(requestsInFlight, forKey: .requestsInFlight)
        try c.encode(memoryLocking, forKey: .memoryLocking)
        try c.encode(privilegePolicy, forKey: .privilegePolicy)
        try c.encode(spinBudget.nanoseconds, forKey: .spinBudgetNanoseconds)
        try c.encode(completionDelivery, forKey: .completionDelivery)
        try c.encode(tuneMalloc, forKey: .tuneMalloc)
        try c.encodeIfPresent(onDemand, forKey: .onDemand)
        try c.encode(realtimeSharePercent, forKey: .realtimeSharePercent)
        try c.encode(realtimeShareRest, forKey: .realtimeShareRest)
        try c.encode(realtimeShareRestSlice.nanoseconds, forKey: .realtimeShareRestSliceNanoseconds)
        try c.encode(submitterReadsDuringRest, forKey: .submitterReadsDuringRest)
    }
}

extension Duration {
    /// Whole nanoseconds (saturating), for JSON keys that name the unit.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (s, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (t, o2) = s.addingReportingOverflow(attoseconds / 1_000_000_000)
        if o1 || o2 { return seconds < 0 ? .min : .max }
        return t
    }
}
