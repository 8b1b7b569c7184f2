#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
import RealtimeIOLinux
#endif

/// A soft/hard pair from `getrlimit(2)`. The kernel enforces `soft`; an
/// unprivileged process may raise `soft` up to `hard`.
public struct ResourceLimit: Hashable, Sendable, Codable {
    /// The limit the kernel enforces.
    public var soft: ResourceLimitValue
    /// The ceiling for `soft` without `CAP_SYS_RESOURCE`.
    public var hard: ResourceLimitValue

    /// A limit with the given values.
    public init(soft: ResourceLimitValue, hard: ResourceLimitValue) {
        self.soft = soft
        self.hard = hard
    }

    /// Reads `resource` with `getrlimit`; both values `0` if the call fails.
    init(resource: Int32) {
        var limit = rlimit()
        #if canImport(Glibc)
        let result = getrlimit(__rlimit_resource_t(resource), &limit)
        #else
        let result = getrlimit(resource, &limit)
        #endif
        if result != 0 {
            self.init(soft: .limited(0), hard: .limited(0))
        } else {
            self.init(soft: ResourceLimitValue(rawValue: limit.rlim_cur), hard: ResourceLimitValue(rawValue: limit.rlim_max))
        }
    }
}
