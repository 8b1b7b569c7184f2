import CRealtimeIOShims

/// The on-demand side of ``IOEngine``: the pool it owns in on-demand and
/// hybrid modes (see ``EngineConfiguration/OnDemand``), and how its completions reach the host.
extension IOEngine {
    /// The internal submit target meaning "the on-demand pool".
    static let onDemandTarget = -1

    /// Requests sent to the on-demand pool because the chosen worker's ring was
    /// full (hybrid mode). 0 in the other modes.
    public var overflowCount: Int { overflowCounter.load(ordering: .relaxed) }

    /// The on-demand pool's counters (nil in preallocated mode).
    package var onDemandStatistics: OnDemandPool.Statistics? { onDemand?.statistics }

    /// Linux tids of the on-demand workers running now.
    package var onDemandWorkerThreadIDs: [Int32] { onDemand?.workerThreadIDs ?? [] }

    /// Runs the host-side work of the engine on the calling (host loop) thread:
    /// with `onDemand.spawner == "hostLoop"`, the pending spawn bottom half —
    /// on-demand workers are then born from this thread and inherit its CPUs and
    /// scheduling. ``reap(maximum:rearm:_:)`` calls it too; call it directly when
    /// the completion fd became readable but you do not want to reap yet.
    /// Cheap (one atomic load) when there is nothing to do.
    public func processEvents() {
        onDemand?.processPendingSpawns()
    }

    /// Whether a request whose target ring is full may overflow to the pool:
    /// not for `.worker(i)`, whose requests must run in submission order on that worker.
    @inline(__always)
    func mayOverflow(_ placement: Placement) -> Bool {
        if case .worker = placement { return false }
        return true
    }

    /// Builds the on-demand pool and its completion path.
    ///
    /// The pool's workers deliver like preallocated ones: resume an async
    /// caller's continuation, call the worker handler, or queue the slot for
    /// `reap` and notify the host through the coalesced eventfd. Spawn requests
    /// (hostLoop) also notify the host, whose `reap`/`processEvents` then runs
    /// the bottom half.
    static func makeOnDemandPool(
        settings: EngineConfiguration.OnDemand, core: EngineCore, spawnerCPUs: CPUList
    ) throws(EngineError) -> (OnDemandPool, OnDemandCompletionQueue) {
        let queue = OnDemandCompletionQueue(capacity: core.slab.count)
        let onCompletion: @Sendable (UInt32) -> Void = { [core, queue] slot in
            if !core.deliverDirectly(slot, worker: nil) {
                queue.push(slot)
                core.notifyHost()
            }
        }
        do {
            let pool = try OnDemandPool(
                slab: core.slab, configuration: OnDemandPool.Configuration(settings, spawnerCPUs: spawnerCPUs), onCompletion: onCompletion,
                onSpawnRequested: { [core] in core.notifyHost() })
            return (pool, queue)
        } catch {
            throw .threadCreation(worker: "rtio-od-spawn", error)
        }
    }

    /// Reap side: on-demand completions, oldest first, up to `maximum`.
    @inline(__always)
    func drainOnDemandCompletions(maximum: Int, _ body: (IOCompletion) -> Void) -> Int {
        guard let queue = onDemandCompletions else { return 0 }
        let slab = core.slab
        var delivered = 0
        while delivered < maximum, let slot = queue.pop() {
            let r = slab.record(slot)
            let completion = IOCompletion(tag: r.pointee.tag, result: r.pointee.result, worker: nil)
            slab.release(slot)
            body(completion)
            delivered += 1
        }
        return delivered
    }
}

extension OnDemandPool.Configuration {
    /// The pool configuration an engine's on-demand settings describe.
    init(_ settings: EngineConfiguration.OnDemand, spawnerCPUs: CPUList) {
        self.init(
            maxThreads: settings.maxThreads, idleTimeout: settings.idleTimeout,
            spawner: settings.spawner, spawnerCPUs: spawnerCPUs.cpus)
    }
}
