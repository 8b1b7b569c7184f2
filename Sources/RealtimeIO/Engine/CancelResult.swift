/// What ``IOEngine/cancel(_:)`` did (the `AIO_CANCELED` / `AIO_NOTCANCELED` /
/// `AIO_ALLDONE` of `aio_cancel`).
public enum CancelResult: Sendable, Equatable {
    /// The request had not started: it will never run, and its completion
    /// (result `-ECANCELED`) has been delivered or queued for reap by the time
    /// `cancel` returns — exactly once, like any completion.
    case cancelled
    /// A worker is running the request: it completes normally.
    case running
    /// The request has finished (its completion may still await reap), was
    /// cancelled already, or the handle is stale (its slot has been reused) or
    /// not this engine's.
    case alreadyDone
}
