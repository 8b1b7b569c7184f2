
/// Which worker a request goes to.
public enum Placement: Sendable, Equatable {
    /// The least-loaded worker of the whole engine.
    case leastLoaded
    /// The least-loaded worker of one group.
    case leastLoadedIn(WorkerGroupID)
    /// The next worker of one group in turn.
    case roundRobin(WorkerGroupID)
    /// One worker by engine-wide index: requests to one worker run in submission order.
    case worker(Int)
}

/// A group, by position in the configuration; from ``IOEngine/group(named:)``
/// (hosts cannot make one up).
public struct WorkerGroupID: Sendable, Hashable {
    public let index: Int
    init(index: Int) { self.index = index }
}
