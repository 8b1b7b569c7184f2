import RealtimeIOLinux

/// Everything an ``IOEngine`` is built from. Validated by ``validate()`` (and
/// by ``IOEngine/init(configuration:completionHandler:)``); `Codable`, so hosts
/// and `rtio-admin plan` share layout files.
///
/// ```json
/// {"groups":[{"name":"io","workers":2,"cpus":"1","scheduling":{"fifo":40}}],
///  "ringCapacity":256,"requestsInFlight":1024,"memoryLocking":"currentAndFuture",
///  "privilegePolicy":"bestEffort","spinBudgetNanoseconds":50000}
/// ```
///
/// With `"onDemand"` (``OnDemandSettings``) the engine can also run requests on
/// workers created on demand: with no groups (pure on-demand mode), as overflow
/// of full rings (hybrid), or instead of workers that cannot get real-time
/// scheduling (`degradeToOnDemand`).
public struct EngineConfiguration: Sendable, Codable, Equatable {
    /// A set of identical workers: same CPUs (or one CPU list per worker), same scheduling.
    public struct WorkerGroup: Sendable, Codable, Equatable {
        /// Group name; threads are named `rtio-<name>-<n>` (at most 15 bytes).
        public var name: String
        /// Number of workers (≥ 1).
        public var workers: Int
        /// CPUs every worker of the group may run on; nil = the process's allowed CPUs.
        public var cpus: CPUList?
        /// One CPU list per worker (overrides `cpus`); count must equal `workers`.
        public var workerCPUs: [CPUList]?
        /// Scheduling each worker is born with.
        public var scheduling: SchedulingPolicy
        /// Worker stack size in bytes.
        public var stackSize: Int
        /// Bytes of each worker's stack touched at start so it never faults later.
        public var stackPrefaultBytes: Int

        public init(
            name: String, workers: Int, cpus: CPUList? = nil, workerCPUs: [CPUList]? = nil,
            scheduling: SchedulingPolicy = .other(nice: 0), stackSize: Int = 256 * 1024,
            stackPrefaultBytes: Int = 64 * 1024
        ) {
            self.name = name
            self.workers = workers
            self.cpus = cpus
            self.workerCPUs = workerCPUs
            self.scheduling = scheduling
            self.stackSize = stackSize
            self.stackPrefaultBytes = stackPrefaultBytes
        }

        /// The CPUs requested for worker `index` of this group, if any.
        public func requestedCPUs(worker index: Int) -> CPUList? {
            workerCPUs?[index] ?? cpus
        }

        enum CodingKeys: String, CodingKey {
            case name, workers, cpus, workerCPUs, scheduling, stackSize, stackPrefaultBytes
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
        }
    }

    /// Memory locking applied at start.
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
        /// Start with what can be applied; report requested vs applied per worker.
        case bestEffort
    }

    /// Where completions go.
    public enum CompletionDelivery: String, Sendable, Codable, Equatable {
        /// Per-worker completion rings and one coalesced eventfd the host polls; the host calls `reap`.
        case eventfd
        /// The completion handler given to the engine runs on the worker thread.
        case workerHandler
    }

    public var groups: [WorkerGroup]
    /// Submission-ring cells per worker (power of two).
    public var ringCapacity: Int
    /// Request slots (requests accepted and not yet reaped), engine-wide.
    public var requestsInFlight: Int
    public var memoryLocking: MemoryLocking
    public var privilegePolicy: PrivilegePolicy
    /// How long an idle worker spins before it parks, in ns (0: park at once).
    public var spinBudgetNanoseconds: Int
    public var completionDelivery: CompletionDelivery
    /// With memory locked: keep freed heap memory (M_MMAP_MAX=0, M_TRIM_THRESHOLD=-1).
    public var tuneMalloc: Bool
    /// The share (1...100 %) of each 10 ms window a worker may run as
    /// configured — spinning or serving requests. Past it the worker rests
    /// until the window ends: with requests waiting, a real-time worker serves
    /// them demoted to SCHED_OTHER; with an empty ring it parks or polls
    /// demoted (see ``dutyCycleRest``). Without the cap a steadily fed or
    /// saturated SCHED_FIFO worker owns its CPU, starves kernel threads and
    /// runs into the kernel's RT throttle (`sched_rt_runtime_us`, 95 % of each
    /// second), which stops it for tens of ms. 100 = no limit.
    public var spinDutyCyclePercent: Int
    /// How a real-time worker rests past its spin share: parked (the default)
    /// or polling demoted to SCHED_OTHER (see ``DutyCycleRest`` for the
    /// trade-off measured on a VM).
    public var dutyCycleRest: DutyCycleRest
    /// On-demand workers (fallback mode, overflow, degradation); nil: preallocated workers only.
    public var onDemand: OnDemandSettings?

    public init(
        groups: [WorkerGroup], ringCapacity: Int = 256, requestsInFlight: Int = 1024,
        memoryLocking: MemoryLocking = .none, privilegePolicy: PrivilegePolicy = .bestEffort,
        spinBudgetNanoseconds: Int = 50_000, completionDelivery: CompletionDelivery = .eventfd,
        tuneMalloc: Bool = true, onDemand: OnDemandSettings? = nil, spinDutyCyclePercent: Int = 50,
        dutyCycleRest: DutyCycleRest = .park
    ) {
        self.groups = groups
        self.ringCapacity = ringCapacity
        self.requestsInFlight = requestsInFlight
        self.memoryLocking = memoryLocking
        self.privilegePolicy = privilegePolicy
        self.spinBudgetNanoseconds = spinBudgetNanoseconds
        self.completionDelivery = completionDelivery
        self.tuneMalloc = tuneMalloc
        self.onDemand = onDemand
        self.spinDutyCyclePercent = spinDutyCyclePercent
        self.dutyCycleRest = dutyCycleRest
    }

    enum CodingKeys: String, CodingKey {
        case groups, ringCapacity, requestsInFlight, memoryLocking, privilegePolicy
        case spinBudgetNanoseconds, completionDelivery, tuneMalloc, onDemand, spinDutyCyclePercent
        case dutyCycleRest
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = EngineConfiguration(groups: [])
        groups = try c.decode([WorkerGroup].self, forKey: .groups)
        ringCapacity = try c.decodeIfPresent(Int.self, forKey: .ringCapacity) ?? d.ringCapacity
        requestsInFlight = try c.decodeIfPresent(Int.self, forKey: .requestsInFlight) ?? d.requestsInFlight
        memoryLocking = try c.decodeIfPresent(MemoryLocking.self, forKey: .memoryLocking) ?? d.memoryLocking
        privilegePolicy = try c.decodeIfPresent(PrivilegePolicy.self, forKey: .privilegePolicy) ?? d.privilegePolicy
        spinBudgetNanoseconds = try c.decodeIfPresent(Int.self, forKey: .spinBudgetNanoseconds) ?? d.spinBudgetNanoseconds
        completionDelivery = try c.decodeIfPresent(CompletionDelivery.self, forKey: .completionDelivery) ?? d.completionDelivery
        tuneMalloc = try c.decodeIfPresent(Bool.self, forKey: .tuneMalloc) ?? d.tuneMalloc
        onDemand = try c.decodeIfPresent(OnDemandSettings.self, forKey: .onDemand)
        spinDutyCyclePercent = try c.decodeIfPresent(Int.self, forKey: .spinDutyCyclePercent) ?? d.spinDutyCyclePercent
        dutyCycleRest = try c.decodeIfPresent(DutyCycleRest.self, forKey: .dutyCycleRest) ?? d.dutyCycleRest
    }

    /// Longest group name that keeps `rtio-<group>-<n>` within the kernel's 15-byte thread name.
    public static func maximumGroupNameLength(workers: Int) -> Int {
        15 - "rtio-".utf8.count - 1 - String(max(0, workers - 1)).utf8.count
    }

    /// Total workers over all groups.
    public var workerCount: Int { groups.reduce(0) { $0 + $1.workers } }

    /// Checks every field against this machine; throws naming the first bad field.
    public func validate(onlineCPUs: CPUList? = nil) throws(ConfigurationError) {
        // No groups is pure on-demand mode, and only that.
        guard !groups.isEmpty || onDemand != nil else {
            throw ConfigurationError(
                field: "groups", problem: "no worker groups",
                remedy: "add at least one group with workers >= 1, or set \"onDemand\" for on-demand mode")
        }
        if let onDemand {
            try onDemand.validate()
            guard !onDemand.degradeToOnDemand || privilegePolicy == .bestEffort else {
                throw ConfigurationError(
                    field: "onDemand.degradeToOnDemand", problem: "needs privilegePolicy bestEffort",
                    remedy: "use \"privilegePolicy\":\"bestEffort\", or drop degradeToOnDemand (\"required\" throws instead)")
            }
        }
        let online: CPUList
        if let onlineCPUs { online = onlineCPUs } else {
            do { online = try SystemTopology.onlineCPUs() } catch {
                throw ConfigurationError(field: "cpus", problem: "cannot read online CPUs: \(error)", remedy: "check /sys/devices/system/cpu/online")
            }
        }
        var names = Set<String>()
        for (i, g) in groups.enumerated() {
            let field = "groups[\(i)]"
            guard g.workers >= 1, g.workers <= 1024 else {
                throw ConfigurationError(field: "\(field).workers", problem: "\(g.workers) workers", remedy: "use 1...1024 workers per group")
            }
            let maxName = Self.maximumGroupNameLength(workers: g.workers)
            guard !g.name.isEmpty, g.name.utf8.count <= maxName,
                  g.name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: "/") }) else {
                throw ConfigurationError(
                    field: "\(field).name", problem: "group name '\(g.name)' is empty, too long or has spaces/slashes",
                    remedy: "use 1...\(maxName) printable characters so 'rtio-\(g.name)-\(g.workers - 1)' fits the 15-byte thread name")
            }
            guard names.insert(g.name).inserted else {
                throw ConfigurationError(field: "\(field).name", problem: "duplicate group name '\(g.name)'", remedy: "give each group its own name")
            }
            do { try g.scheduling.validate() } catch {
                throw ConfigurationError(field: "\(field).scheduling", problem: error.description, remedy: "fix the priority or nice value")
            }
            if let cpus = g.cpus { try Self.check(cpus, online: online, field: "\(field).cpus") }
            if let per = g.workerCPUs {
                guard per.count == g.workers else {
                    throw ConfigurationError(field: "\(field).workerCPUs", problem: "\(per.count) CPU lists for \(g.workers) workers", remedy: "give exactly one CPU list per worker")
                }
                for (w, cpus) in per.enumerated() { try Self.check(cpus, online: online, field: "\(field).workerCPUs[\(w)]") }
            }
            guard g.stackSize >= 64 * 1024, g.stackSize <= 1 << 30 else {
                throw ConfigurationError(field: "\(field).stackSize", problem: "\(g.stackSize) bytes", remedy: "use 64 KiB...1 GiB")
            }
            guard g.stackPrefaultBytes >= 0, g.stackPrefaultBytes <= g.stackSize - 16 * 1024 else {
                throw ConfigurationError(field: "\(field).stackPrefaultBytes", problem: "\(g.stackPrefaultBytes) bytes with a \(g.stackSize)-byte stack", remedy: "use 0...stackSize - 16 KiB")
            }
        }
        guard ringCapacity >= 2, ringCapacity <= 1 << 20, ringCapacity & (ringCapacity - 1) == 0 else {
            throw ConfigurationError(field: "ringCapacity", problem: "\(ringCapacity) is not a power of two in 2...2^20", remedy: "use e.g. 64, 256 or 1024")
        }
        guard requestsInFlight >= 1, requestsInFlight <= 1 << 20 else {
            throw ConfigurationError(field: "requestsInFlight", problem: "\(requestsInFlight)", remedy: "use 1...1048576 request slots")
        }
        guard (1...100).contains(spinDutyCyclePercent) else {
            throw ConfigurationError(field: "spinDutyCyclePercent", problem: "\(spinDutyCyclePercent)", remedy: "use 1...100 (100: spin without a duty limit)")
        }
        guard spinBudgetNanoseconds >= 0, spinBudgetNanoseconds <= 1_000_000_000 else {
            throw ConfigurationError(field: "spinBudgetNanoseconds", problem: "\(spinBudgetNanoseconds)", remedy: "use 0...1000000000 (1 s); spinning longer only burns the CPU")
        }
    }

    private static func check(_ cpus: CPUList, online: CPUList, field: String) throws(ConfigurationError) {
        guard !cpus.isEmpty else {
            throw ConfigurationError(field: field, problem: "empty CPU list", remedy: "list at least one online CPU (online: \(online))")
        }
        guard cpus.isSubset(of: online) else {
            throw ConfigurationError(
                field: field, problem: "CPU(s) \(cpus.subtracting(online)) not online",
                remedy: "use online CPUs only (online: \(online))")
        }
    }
}

/// An ``EngineConfiguration`` field that cannot be used.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The JSON path of the field, e.g. `groups[0].scheduling`.
    public var field: String
    public var problem: String
    public var remedy: String

    public var description: String { "invalid configuration: \(field): \(problem); \(remedy)" }
}
