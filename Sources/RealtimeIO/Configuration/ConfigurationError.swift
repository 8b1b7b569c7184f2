
/// A configuration that cannot be used: which field, what is wrong with it,
/// and what to do instead.
///
/// Every loader and check of the engine reports through this one type — JSON
/// syntax and type errors from ``EngineConfiguration/init(json:)``, range
/// checks from ``EngineConfiguration/validate()``, and the limits of the ring
/// and the slab — so a Swift host, a C host (`rtio_engine_create`'s message)
/// and the POSIX AIO drop-in (`RTIO_AIO_CONFIG`) print the same text.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The JSON path of the field, e.g. `groups[0].scheduling`; `<document>` for the whole text.
    public var field: String
    /// What is wrong with the value found there.
    public var problem: String
    /// What to do instead.
    public var remedy: String

    /// An error for the field at JSON path `field`.
    public init(field: String, problem: String, remedy: String) {
        self.field = field
        self.problem = problem
        self.remedy = remedy
    }

    public var description: String { "invalid configuration: \(field): \(problem); \(remedy)" }
}

extension EngineConfiguration {
    /// The bounds ``validate()`` enforces, in one place: the ring, the slab and
    /// the on-demand pool check against these same numbers.
    public enum Limits {
        /// Workers per group.
        public static let workersPerGroup = 1...1024
        /// Requests one worker keeps in flight (``WorkerGroup/inFlight``).
        public static let inFlightPerWorker = 1...4096
        /// Submission-ring cells per worker (a power of two).
        public static let ringCapacity = 2...(1 << 20)
        /// Request slots per engine.
        public static let requestsInFlight = 1...(1 << 20)
        /// Worker stack size in bytes.
        public static let stackSize = (64 * 1024)...(1 << 30)
        /// Idle spin before parking.
        public static let spinBudget = Duration.zero...Duration.seconds(1)
        /// Per cent of each window a worker may run with its configured policy.
        public static let realtimeSharePercent = 1...100
        /// Longest timed sleep of a ``EngineConfiguration/RealtimeShareRest/slices`` rest:
        /// 10 µs (below it the timer's own wake-up dominates) to 1 ms (a tenth of a window).
        public static let realtimeShareRestSlice = Duration.microseconds(10)...Duration.milliseconds(1)
        /// On-demand workers alive at once.
        public static let onDemandThreads = 1...4096
        /// How long an idle on-demand worker waits before it exits. Below a
        /// millisecond a worker would exit between two requests of one burst.
        public static let idleTimeout = Duration.milliseconds(1)...Duration.seconds(3600)
    }
}
