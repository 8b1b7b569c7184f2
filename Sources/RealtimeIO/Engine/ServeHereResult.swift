/// What ``IOEngine/serveHere(_:)`` did.
public enum ServeHereResult: Sendable, Equatable {
    /// No worker had taken the request: it ran on the calling thread and its
    /// completion has been delivered (or queued for reap) — exactly once, like
    /// any completion. The worker it was queued on skips it.
    case served
    /// A worker is running the request: it completes normally.
    case running
    /// The request has finished (its completion may still await reap), was
    /// cancelled or served already, or the handle is stale or not this engine's.
    case alreadyDone
}
