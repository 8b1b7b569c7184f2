import CLibcap

/// Whether one capability is in the process's effective and permitted sets.
public struct CapabilityState: Hashable, Sendable, Codable {
    /// In force now: the kernel checks this set.
    public var effective: Bool
    /// Available to raise into the effective set with `cap_set_proc(3)`.
    public var permitted: Bool

    /// A state with the given flags.
    public init(effective: Bool, permitted: Bool) {
        self.effective = effective
        self.permitted = permitted
    }

    /// The state of `capability` in the capability set `caps`.
    init(_ caps: cap_t, _ capability: Capability) {
        effective = Self.flag(caps, capability.rawValue, CAP_EFFECTIVE)
        permitted = Self.flag(caps, capability.rawValue, CAP_PERMITTED)
    }

    package static func flag(_ caps: cap_t, _ value: cap_value_t, _ set: cap_flag_t) -> Bool {
        var flag = CAP_CLEAR
        guard cap_get_flag(caps, value, set, &flag) == 0 else { return false }
        return flag == CAP_SET
    }

    /// `effective`, `permitted only` or `absent`.
    package var summary: String {
        switch (effective, permitted) {
        case (true, _): "effective"
        case (false, true): "permitted only"
        case (false, false): "absent"
        }
    }
}
