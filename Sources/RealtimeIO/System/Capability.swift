import CLibcap

/// A Linux capability (`capabilities(7)`), e.g. `CAP_SYS_NICE`.
///
/// Encodes as its lower-case name (`"cap_sys_nice"`), as `setcap(8)` spells it.
package struct Capability: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    package var rawValue: Int32

    package init(rawValue: Int32) { self.rawValue = rawValue }

    /// Looks a capability up by name (`"cap_sys_nice"`, case-insensitive); `nil` if unknown.
    package init?(name: String) {
        var value: cap_value_t = 0
        guard cap_from_name(name.lowercased(), &value) == 0 else { return nil }
        self.rawValue = value
    }

    package static let ipcLock = Capability(rawValue: CAP_IPC_LOCK)
    package static let sysNice = Capability(rawValue: CAP_SYS_NICE)
    package static let sysResource = Capability(rawValue: CAP_SYS_RESOURCE)

    /// The name as `setcap(8)` prints it, e.g. `cap_sys_nice`.
    package var name: String {
        guard let text = cap_to_name(rawValue) else { return "cap_\(rawValue)" }
        defer { cap_free(UnsafeMutableRawPointer(text)) }
        return String(cString: text)
    }

    package var description: String { name }

    package static func < (lhs: Capability, rhs: Capability) -> Bool { lhs.rawValue < rhs.rawValue }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let capability = Capability(name: name) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "unknown capability '\(name)'; expected a name like cap_sys_nice")
        }
        self = capability
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}
