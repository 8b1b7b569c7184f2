extension OnDemandSettings {
    /// Which thread on-demand workers are born from — and so inherit their CPUs
    /// and scheduling from (unless the pool sets explicit attributes).
    public enum Spawner: String, Sendable, Codable, Equatable {
        /// The host's loop: ``IOEngine/reap(maximum:rearm:_:)`` or
        /// ``IOEngine/processEvents()`` on the host thread runs the spawn bottom half,
        /// after the engine has notified the host through its completion fd.
        case hostLoop
        /// A dedicated spawner thread, created by the thread that creates the
        /// engine, for hosts without a loop.
        case spawnerThread
    }
}
