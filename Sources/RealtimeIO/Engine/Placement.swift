/// Which worker a request goes to.
///
/// Placement is decided once, at submit; a queued request never moves to
/// another worker.
///
/// ## Least-loaded placement and long requests
/// ``leastLoaded`` and ``leastLoadedIn(_:)`` look at each candidate worker's
/// queue, its request in service *and* the requests in its own io_uring
/// (``EngineConfiguration/WorkerGroup/inFlight``):
/// 1. the first idle worker (nothing queued, nothing in service, nothing in
///    its io_uring) takes the request;
/// 2. otherwise a worker whose request in service has run longer than a
///    threshold (100 µs) is passed over as long as another candidate is not
///    in that state, whatever the queue lengths; among the others the one
///    with the fewest queued entries plus in-service and in-io_uring
///    requests wins;
/// 3. if every candidate serves a long request, the one whose request
///    started last wins (the longer a request has run, the likelier it is
///    stuck), then the least loaded.
///
/// Remaining ties go to the lowest index. Each submit reads two cache lines per
/// candidate worker up to the first idle one, and no clock beyond the one
/// that stamps the submission.
///
/// **Limit: requests already queued behind a request that later turns long
/// stay behind it.** A request placed on a worker whose request in service
/// was still short (or placed there because every candidate was busy) waits
/// until that request ends, even if the request then blocks for good (a read
/// from an empty pipe or socket, an `fsync` of a large dirty file, a stalled
/// network filesystem) and another worker becomes idle: there is no work
/// stealing. Requests placed *after* the request turned long go elsewhere
/// while any candidate is not stuck the same way. A host that submits
/// requests which may block indefinitely should give them a worker or a
/// group of their own (``worker(_:)``, ``leastLoadedIn(_:)``), so that
/// nothing else queues behind them.
///
/// ``worker(_:)`` and ``roundRobin(_:)`` ignore load and in-service state.
public enum Placement: Sendable, Equatable {
    /// The least-loaded worker of the whole engine, avoiding workers stuck on
    /// a long request (see above).
    case leastLoaded
    /// The least-loaded worker of one group, avoiding workers stuck on a long
    /// request (see above).
    case leastLoadedIn(WorkerGroupID)
    /// The next worker of one group in turn.
    case roundRobin(WorkerGroupID)
    /// One worker by engine-wide index: requests to one worker run in submission order.
    case worker(Int)
}

/// A group, by position in the configuration; from ``IOEngine/group(named:)``
/// (hosts cannot make one up).
public struct WorkerGroupID: Sendable, Hashable {
    /// The group's position in ``EngineConfiguration/groups``.
    public let index: Int
    init(index: Int) { self.index = index }
}
