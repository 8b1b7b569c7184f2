#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `uname(2)` fields as strings.
struct UnameInfo {
    var release: String
    var version: String
    var machine: String

    static func current() -> UnameInfo {
        var info = utsname()
        guard uname(&info) == 0 else { return UnameInfo(release: "?", version: "?", machine: "?") }
        return UnameInfo(
            release: string(&info.release),
            version: string(&info.version),
            machine: string(&info.machine))
    }

    private static func string<T>(_ field: inout T) -> String {
        withUnsafeBytes(of: &field) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
