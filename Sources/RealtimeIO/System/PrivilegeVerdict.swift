
/// The verdict of a `PrivilegeReport.can…` question.
public struct PrivilegeVerdict: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Whether the kernel would allow it.
    public var allowed: Bool
    /// Why, in terms of capabilities, limits and sysctls.
    public var reason: String
    /// What to change to make it allowed; `nil` when allowed.
    public var remedy: String?

    /// A verdict with the given answer and explanation.
    public init(allowed: Bool, reason: String, remedy: String?) {
        self.allowed = allowed
        self.reason = reason
        self.remedy = remedy
    }

    package static func allowed(_ reason: String) -> PrivilegeVerdict {
        PrivilegeVerdict(allowed: true, reason: reason, remedy: nil)
    }

    package static func denied(_ reason: String, remedy: String) -> PrivilegeVerdict {
        PrivilegeVerdict(allowed: false, reason: reason, remedy: remedy)
    }

    /// `allowed: REASON` or `not allowed: REASON; REMEDY`.
    public var description: String {
        allowed ? "allowed: \(reason)" : "not allowed: \(reason); \(remedy ?? "")"
    }
}
