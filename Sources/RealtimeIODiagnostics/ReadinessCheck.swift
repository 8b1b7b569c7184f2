#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// ReadinessCheck — one finding about how well this machine and process suit
/// real-time work.
///
/// `status` is `.pass` (nothing to do), `.warn` (works, but latency will suffer
/// or a limit may bite) or `.fail` (real-time operation will not work).
/// `remedy` says what to change; it is `nil` for passing checks.
package struct ReadinessCheck: Hashable, Sendable, Codable {
    package enum Status: String, Hashable, Sendable, Codable, Comparable, CaseIterable {
        case pass, warn, fail

        package static func < (lhs: Status, rhs: Status) -> Bool { lhs.severity < rhs.severity }

        private var severity: Int {
            switch self {
            case .pass: 0
            case .warn: 1
            case .fail: 2
            }
        }
    }

    /// A stable identifier, one of `ReadinessChecks.Name` (e.g. `"rt-throttling"`).
    package var name: String
    package var status: Status
    /// What was found, e.g. `"kernel.sched_rt_runtime_us = 950000 of 1000000"`.
    package var detail: String
    /// What to do about a warning or failure; `nil` when the check passes.
    package var remedy: String?

    package init(name: String, status: Status, detail: String, remedy: String? = nil) {
        self.name = name
        self.status = status
        self.detail = detail
        self.remedy = remedy
    }
}
