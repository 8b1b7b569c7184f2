/// Which workers an ``IOEngine`` runs requests on (see ``OnDemandSettings``).
public enum EngineMode: String, Sendable, Codable, Equatable {
    /// Only the preallocated, born-pinned workers of the configured groups.
    case preallocated
    /// Only an ``OnDemandPool``: no groups configured, or `degradeToOnDemand` applied.
    case onDemand
    /// Preallocated workers, and an ``OnDemandPool`` that takes requests whose
    /// chosen worker's ring is full (`onDemand.overflow`).
    case hybrid
}
