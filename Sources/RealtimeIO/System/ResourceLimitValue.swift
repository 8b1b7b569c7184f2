#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A resource limit's value: a number or `unlimited` (`RLIM_INFINITY`).
///
/// Encodes as a JSON number or the string `"unlimited"`.
public enum ResourceLimitValue: Hashable, Sendable, Codable, CustomStringConvertible {
    /// A finite limit.
    case limited(UInt64)
    /// `RLIM_INFINITY`.
    case unlimited

    /// The value `getrlimit(2)` reported (`RLIM_INFINITY` is ``unlimited``).
    public init(rawValue: rlim_t) {
        self = rawValue == rlim_t.max ? .unlimited : .limited(UInt64(rawValue))
    }

    /// Whether `amount` is within the limit.
    public func allows(_ amount: UInt64) -> Bool {
        switch self {
        case .unlimited: true
        case .limited(let limit): amount <= limit
        }
    }

    /// The number, or `unlimited`.
    public var description: String {
        switch self {
        case .unlimited: "unlimited"
        case .limited(let value): String(value)
        }
    }

    /// Decodes a number or the string `"unlimited"`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(UInt64.self) {
            self = .limited(value)
            return
        }
        let text = try container.decode(String.self)
        guard text == "unlimited" else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected a number or \"unlimited\", got \"\(text)\"")
        }
        self = .unlimited
    }

    /// Encodes a number or the string `"unlimited"`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .unlimited: try container.encode("unlimited")
        case .limited(let value): try container.encode(value)
        }
    }
}
