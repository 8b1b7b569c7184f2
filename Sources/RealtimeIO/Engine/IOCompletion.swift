import SystemPackage

/// A finished request as the host sees it.
public struct IOCompletion: Sendable, Equatable {
    /// The tag given at submit.
    public var tag: UInt64
    /// Bytes transferred (or the custom call's value), or `-errno`.
    public var result: Int
    /// Index of the preallocated worker that ran it (or would have); nil for
    /// an on-demand worker (on-demand and hybrid modes) and for a read the
    /// submitting thread ran itself while its worker rested
    /// (``EngineConfiguration/submitterReadsDuringRest``).
    public var worker: Int?

    /// A completion (the engine makes these; tests and adapters may too).
    public init(tag: UInt64, result: Int, worker: Int?) {
        self.tag = tag
        self.result = result
        self.worker = worker
    }

    /// The error, if the result is negative.
    public var error: Errno? { result < 0 ? Errno(rawValue: Int32(-result)) : nil }
}
