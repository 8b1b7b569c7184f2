import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// NEVER USE THIS. The pre-patch behaviour of QEMU's 2011 posix-aio-compat,
/// kept only as the benchmark's baseline (`rtio-bench … --engines prepatch`).
///
/// ## Description
/// The thread that calls ``submit(_:)`` creates the worker itself, inside
/// `submit`, while it holds the queue lock: with no idle worker and fewer than
/// `maxThreads`, every submit of a burst makes one `pthread_create` (tens of
/// microseconds each) on the submitter and under the lock, and every worker
/// inherits the submitter's CPU affinity and scheduling — a submitter pinned
/// to one CPU piles all its workers onto that CPU. That is the bug
/// ``OnDemandPool`` fixes; use ``OnDemandPool`` (or an ``IOEngine``).
///
/// Everything else (queue, idle timeout, shutdown, completion, failure
/// handling, instrumentation) is ``OnDemandPool``'s; only the spawn path
/// differs. `threadAttributes` and `spawner` are ignored.
package final class _PrePatchBaselinePool_BenchmarkOnly: @unchecked Sendable {
    private let pool: OnDemandPool

    /// See ``OnDemandPool/init(slab:configuration:onCompletion:onSpawnRequested:)``.
    public init(
        slab: RequestSlab, maxThreads: Int = 64, idleTimeout: Duration = .seconds(10),
        onCompletion: @escaping @Sendable (UInt32) -> Void
    ) throws(Errno) {
        pool = try OnDemandPool(
            slab: slab,
            configuration: .init(maxThreads: maxThreads, idleTimeout: idleTimeout, threadAttributes: nil, spawner: .hostLoop),
            strategy: .inSubmitUnderLock, onCompletion: onCompletion, onSpawnRequested: nil)
    }

    /// Queues `slot` and, the bug, may create a worker on the calling thread under the lock.
    public func submit(_ slot: UInt32) throws(SubmitError) { try pool.submit(slot) }

    public func shutdown(_ mode: ShutdownMode = .drain) { pool.shutdown(mode) }

    public var statistics: OnDemandPool.Statistics { pool.statistics }
    public var creationsByThread: [pid_t: Int] { pool.creationsByThread }
    public func threadsCreated(by tid: pid_t) -> Int { pool.threadsCreated(by: tid) }
    public var workerThreadIDs: [pid_t] { pool.workerThreadIDs }
}
