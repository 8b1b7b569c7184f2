/// The on-demand part of an ``EngineConfiguration`` (`"onDemand"` in JSON).
///
/// ```json
/// {"groups":[], "onDemand":{"maxThreads":64,"idleTimeoutSeconds":10,"spawner":"hostLoop"}}
/// {"groups":[…], "onDemand":{"overflow":true}}
/// {"groups":[…fifo…], "privilegePolicy":"bestEffort", "onDemand":{"degradeToOnDemand":true}}
/// ```
///
/// Modes of an ``IOEngine``:
/// - no groups: pure on-demand mode, every request runs on an ``OnDemandPool``;
/// - groups and `overflow`: hybrid — a request whose chosen worker's ring is
///   full goes to the pool instead of failing with `.full`;
/// - groups and `degradeToOnDemand` (with `privilegePolicy: bestEffort`): when
///   real-time scheduling cannot be applied, the engine starts in on-demand
///   mode instead of with SCHED_OTHER workers, and says so in `degradations`.
public struct OnDemandSettings: Sendable, Codable, Equatable {
    /// Most on-demand workers alive at once (1...4096).
    public var maxThreads: Int
    /// Seconds an idle on-demand worker waits before it exits (> 0, ≤ 3600).
    public var idleTimeoutSeconds: Double
    /// Who creates workers: the host's loop (`reap`/`processEvents`) or a spawner thread.
    public var spawner: Spawner
    /// Hybrid mode: send requests to the pool when the chosen worker's ring is full.
    public var overflow: Bool
    /// Start in on-demand mode when real-time scheduling is refused (bestEffort only).
    public var degradeToOnDemand: Bool

    public init(
        maxThreads: Int = 64, idleTimeoutSeconds: Double = 10, spawner: Spawner = .hostLoop,
        overflow: Bool = false, degradeToOnDemand: Bool = false
    ) {
        self.maxThreads = maxThreads
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.spawner = spawner
        self.overflow = overflow
        self.degradeToOnDemand = degradeToOnDemand
    }

    enum CodingKeys: String, CodingKey { case maxThreads, idleTimeoutSeconds, spawner, overflow, degradeToOnDemand }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = OnDemandSettings()
        maxThreads = try c.decodeIfPresent(Int.self, forKey: .maxThreads) ?? d.maxThreads
        idleTimeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .idleTimeoutSeconds) ?? d.idleTimeoutSeconds
        spawner = try c.decodeIfPresent(OnDemandPool.Spawner.self, forKey: .spawner) ?? d.spawner
        overflow = try c.decodeIfPresent(Bool.self, forKey: .overflow) ?? d.overflow
        degradeToOnDemand = try c.decodeIfPresent(Bool.self, forKey: .degradeToOnDemand) ?? d.degradeToOnDemand
    }

    /// The pool configuration these settings describe.
    var poolConfiguration: OnDemandPool.Configuration {
        OnDemandPool.Configuration(
            maxThreads: maxThreads, idleTimeout: .nanoseconds(Int64(idleTimeoutSeconds * 1e9)), spawner: spawner)
    }

    /// Checks the fields; `field` prefixes the JSON path in the error.
    func validate(field: String = "onDemand") throws(ConfigurationError) {
        guard maxThreads >= 1, maxThreads <= 4096 else {
            throw ConfigurationError(field: "\(field).maxThreads", problem: "\(maxThreads)", remedy: "use 1...4096")
        }
        guard idleTimeoutSeconds > 0, idleTimeoutSeconds <= 3600 else {
            throw ConfigurationError(field: "\(field).idleTimeoutSeconds", problem: "\(idleTimeoutSeconds)", remedy: "use a value in (0, 3600]")
        }
    }
}
