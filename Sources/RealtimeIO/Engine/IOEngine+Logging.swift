import Logging

/// The engine's lifecycle through swift-log: start (what was applied), each
/// degradation, each worker's exit, shutdown.
///
/// Every message is emitted on the thread that calls `IOEngine.init` or
/// ``IOEngine/shutdown(_:)`` — never on a worker thread and never on the I/O
/// path (submit, the worker loop, reap), so a log handler that allocates,
/// locks or writes to a file costs the real-time threads nothing.
///
/// Levels: `info` for start and shutdown, `warning` for each degradation,
/// `debug` for each worker's start and exit (with its counters).
extension IOEngine {

    /// Logs the engine's start: mode and workers, then each degradation, then
    /// each worker as the kernel reported it right after birth. Called at the
    /// end of a successful `init`.
    func logStarted() {
        logger.info("realtimeio engine started", metadata: [
            "mode": "\(mode)",
            "workers": "\(workers.count)",
            "groups": .array(configuration.groups.map { .string($0.name) }),
            "degradations": "\(degradations.count)",
            "statusFile": "\(statusFilePath ?? "none")",
        ])
        for degradation in degradations {
            var metadata: Logger.Metadata = [
                "kind": "\(degradation.kind.rawValue)",
                "requested": "\(degradation.requested)",
                "applied": "\(degradation.applied)",
                "reason": "\(degradation.reason)",
            ]
            if let group = degradation.group { metadata["group"] = "\(group)" }
            if let worker = degradation.worker { metadata["worker"] = "\(worker)" }
            if let remedy = degradation.remedy { metadata["remedy"] = "\(remedy)" }
            logger.warning("realtimeio degradation: \(degradation)", metadata: metadata)
        }
        for worker in workers {
            logger.debug("realtimeio worker started", metadata: [
                "worker": "\(worker.name)",
                "tid": "\(worker.tid)",
                "cpus": "\(worker.birthCPUs.map { "\($0)" } ?? "unknown")",
                "scheduling": "\(worker.birthScheduling.map { "\($0)" } ?? "unknown")",
            ])
        }
    }

    /// Logs that the calling thread won the shutdown and is about to stop the workers.
    func logShutdownBegan(_ mode: ShutdownMode) {
        logger.info("realtimeio engine shutting down", metadata: ["mode": "\(mode)"])
    }

    /// Logs each (joined) worker's exit with its final counters, then the end of the
    /// shutdown. Called after every worker thread has been joined.
    func logShutdownFinished() {
        var completed: UInt64 = 0
        for worker in workers {
            let c = worker.counters
            completed += c[.completed]
            logger.debug("realtimeio worker exited", metadata: [
                "worker": "\(worker.name)",
                "completed": "\(c[.completed])",
                "errors": "\(c[.errors])",
                "cancelled": "\(c[.cancelled])",
            ])
        }
        var metadata: Logger.Metadata = ["completed": "\(completed)"]
        if let pool = onDemandStatistics {
            metadata["onDemandCompleted"] = "\(pool.completed)"
            metadata["onDemandThreadsCreated"] = "\(pool.threadsCreated)"
        }
        logger.info("realtimeio engine shut down", metadata: metadata)
    }
}
