
extension EngineConfiguration {
    /// The on-demand part of a configuration (`"onDemand"` in JSON).
    ///
    /// ```json
    /// {"groups":[], "onDemand":{"maxThreads":64,"idleTimeoutSeconds":10,"spawner":"hostLoop"}}
    /// {"groups":[…], "onDemand":{"overflow":true}}
    /// {"groups":[…fifo…], "privilegePolicy":"bestEffort", "onDemand":{"degradeToOnDemand":true}}
    /// ```
    ///
    /// The engine's ``EngineMode`` follows from it:
    /// - no groups: ``EngineMode/onDemand``, every request runs on a worker
    ///   created on demand;
    /// - groups and `overflow`: ``EngineMode/hybrid`` — a request whose chosen
    ///   worker's ring is full runs on demand instead of failing with
    ///   ``SubmitError/full`` (`.worker(i)` placements never overflow: they keep
    ///   their order);
    /// - groups and `degradeToOnDemand` (with `privilegePolicy: bestEffort`):
    ///   when real-time scheduling cannot be applied, the engine starts in
    ///   on-demand mode instead of with SCHED_OTHER workers, and reports it as
    ///   a ``Degradation``.
    ///
    /// On-demand workers are created the way QEMU's 2011 fix creates them:
    /// never by the submitting thread, but by the host's loop (``Spawner/hostLoop``:
    /// in ``IOEngine/reap(maximum:rearm:_:)`` or ``IOEngine/processEvents()``) or
    /// by a spawner thread (``Spawner/spawnerThread``), each newborn creating the
    /// next while a backlog remains. In these modes submit and reap take a
    /// priority-inheriting mutex, and reap may create a thread (`hostLoop`).
    public struct OnDemand: Sendable, Codable, Equatable {
        /// Who creates on-demand workers.
        public enum Spawner: String, Sendable, Codable, Equatable {
            /// The host's loop: the engine's eventfd becomes readable when a worker
            /// is wanted, and the next ``IOEngine/reap(maximum:rearm:_:)`` or
            /// ``IOEngine/processEvents()`` creates it on the calling thread, whose
            /// CPUs and scheduling it inherits.
            case hostLoop
            /// A dedicated spawner thread, created with the engine, for hosts without a loop.
            case spawnerThread
        }

        /// Most on-demand workers alive at once (``Limits/onDemandThreads``).
        public var maxThreads: Int
        /// How long an idle on-demand worker waits before it exits (``Limits/idleTimeout``).
        /// JSON: `idleTimeoutSeconds`.
        public var idleTimeout: Duration
        /// Who creates on-demand workers (default ``Spawner/hostLoop``).
        public var spawner: Spawner
        /// Hybrid mode: send requests to on-demand workers when the chosen worker's ring is full.
        public var overflow: Bool
        /// Start in on-demand mode when real-time scheduling is refused (bestEffort only).
        public var degradeToOnDemand: Bool

        /// On-demand settings; the defaults are those a JSON object without the field gets.
        public init(
            maxThreads: Int = 64, idleTimeout: Duration = .seconds(10), spawner: Spawner = .hostLoop,
            overflow: Bool = false, degradeToOnDemand: Bool = false
        ) {
            self.maxThreads = maxThreads
            self.idleTimeout = idleTimeout
            self.spawner = spawner
            self.overflow = overflow
            self.degradeToOnDemand = degradeToOnDemand
        }

        enum CodingKeys: String, CodingKey { case maxThreads, idleTimeoutSeconds, spawner, overflow, degradeToOnDemand }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = OnDemand()
            maxThreads = try c.decodeIfPresent(Int.self, forKey: .maxThreads) ?? d.maxThreads
            if let seconds = try c.decodeIfPresent(Double.self, forKey: .idleTimeoutSeconds) {
                // Out-of-range values (NaN, negative, huge) are left for validate() to name.
                idleTimeout = seconds.isFinite && abs(seconds) < 1e9 ? .nanoseconds(Int64(seconds * 1e9)) : .seconds(-1)
            } else {
                idleTimeout = d.idleTimeout
            }
            spawner = try c.decodeIfPresent(Spawner.self, forKey: .spawner) ?? d.spawner
            overflow = try c.decodeIfPresent(Bool.self, forKey: .overflow) ?? d.overflow
            degradeToOnDemand = try c.decodeIfPresent(Bool.self, forKey: .degradeToOnDemand) ?? d.degradeToOnDemand
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(maxThreads, forKey: .maxThreads)
            try c.encode(Double(idleTimeout.nanoseconds) / 1e9, forKey: .idleTimeoutSeconds)
            try c.encode(spawner, forKey: .spawner)
            try c.encode(overflow, forKey: .overflow)
            try c.encode(degradeToOnDemand, forKey: .degradeToOnDemand)
        }

        /// Checks the fields; `field` prefixes the JSON path in the error.
        func validate(field: String = "onDemand") throws(ConfigurationError) {
            guard Limits.onDemandThreads.contains(maxThreads) else {
                throw ConfigurationError(
                    field: "\(field).maxThreads", problem: "\(maxThreads)",
                    remedy: "use \(Limits.onDemandThreads.lowerBound)...\(Limits.onDemandThreads.upperBound)")
            }
            guard Limits.idleTimeout.contains(idleTimeout) else {
                throw ConfigurationError(
                    field: "\(field).idleTimeoutSeconds", problem: "\(Double(idleTimeout.nanoseconds) / 1e9) s",
                    remedy: "use 0.001...3600 seconds")
            }
        }
    }
}
