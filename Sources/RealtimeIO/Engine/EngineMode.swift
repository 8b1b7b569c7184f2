
/// Which workers an ``IOEngine`` runs requests on (see ``EngineConfiguration/OnDemand``).
public enum EngineMode: String, Sendable, Codable, Equatable {
    /// Only the preallocated, born-pinned workers of the configured groups.
    case preallocated
    /// Only workers created on demand: no groups configured, or `degradeToOnDemand` applied.
    case onDemand
    /// Preallocated workers, and workers created on demand that take requests whose
    /// chosen worker's ring is full (`onDemand.overflow`).
    case hybrid
}
