
/// Something the configuration asked for that the engine started without
/// (`privilegePolicy: bestEffort` only; `required` throws instead).
///
/// ``IOEngine/degradations`` lists them; ``description`` is the one-line form
/// the C ABI and the POSIX AIO drop-in print.
public struct Degradation: Sendable, Equatable, CustomStringConvertible {
    /// What was not applied.
    public enum Kind: String, Sendable, Equatable, Codable {
        /// A group's or worker's scheduling policy, priority or nice value.
        case scheduling
        /// A worker's CPU list.
        case cpus
        /// A group's or worker's I/O priority (`ionice` class and level).
        case ioPriority
        /// `mlockall` as ``EngineConfiguration/memoryLocking`` asked.
        case memoryLocking
        /// The status file `rtio-admin` reads.
        case statusFile
        /// Real-time workers replaced by on-demand mode (`onDemand.degradeToOnDemand`).
        case onDemandMode
        /// A group's ``EngineConfiguration/WorkerGroup/inFlight`` depth: the
        /// worker's own io_uring could not be set up; it runs one request at a time.
        case inFlight
    }

    /// What was not applied.
    public var kind: Kind
    /// The group concerned, if any.
    public var group: String?
    /// The worker thread concerned (`rtio-<group>-<n>`), if one worker only.
    public var worker: String?
    /// What the configuration asked for, e.g. `fifo:40`.
    public var requested: String
    /// What the engine runs with instead, e.g. `other:0`.
    public var applied: String
    /// Why it could not be applied (capability, limit, errno).
    public var reason: String
    /// How to get what was requested, if something can be done.
    public var remedy: String?

    /// A degradation (the engine makes these; tests and tools may too).
    public init(
        kind: Kind, group: String? = nil, worker: String? = nil, requested: String, applied: String,
        reason: String, remedy: String? = nil
    ) {
        self.kind = kind
        self.group = group
        self.worker = worker
        self.requested = requested
        self.applied = applied
        self.reason = reason
        self.remedy = remedy
    }

    /// E.g. `group io: scheduling fifo:40 not applied (…); running other:0`.
    public var description: String {
        let subject = worker ?? group.map { "group \($0)" } ?? "engine"
        let what: String
        switch kind {
        case .scheduling: what = "scheduling \(requested)"
        case .cpus: what = "CPUs \(requested)"
        case .ioPriority: what = "I/O priority \(requested)"
        case .memoryLocking: what = "memory locking \(requested)"
        case .statusFile: what = "status file"
        case .onDemandMode: what = "scheduling \(requested)"
        case .inFlight: what = "\(requested) requests in flight"
        }
        var text = "\(subject): \(what) not applied (\(reason)); \(applied)"
        if let remedy { text += "; remedy: \(remedy)" }
        return text
    }
}
