
/// How ``IOEngine/shutdown(_:)`` treats requests still queued.
public enum ShutdownMode: Sendable {
    /// Run every queued request, then stop.
    case drain
    /// Complete every queued (not yet running) request with ECANCELED, then stop.
    case cancel
}
