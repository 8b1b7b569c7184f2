import CLibcap
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

import RealtimeIO

/// The capability sets stored on an executable file (`setcap(8)`), ascending.
///
/// At `execve(2)`, a file capability in `permitted` is granted to the new
/// program (if the bounding set allows); with the file's effective bit set
/// (the `e` in `+ep`) it is also effective immediately.
package struct FileCapabilities: Hashable, Sendable, Codable, CustomStringConvertible {
    package var permitted: [Capability]
    package var effective: [Capability]
    package var inheritable: [Capability]

    package init(permitted: [Capability] = [], effective: [Capability] = [], inheritable: [Capability] = []) {
        self.permitted = permitted
        self.effective = effective
        self.inheritable = inheritable
    }

    /// Whether the file carries no capabilities at all.
    package var isEmpty: Bool { permitted.isEmpty && effective.isEmpty && inheritable.isEmpty }

    /// Whether `capability` is permitted and effective at exec (`+ep`).
    package func grants(_ capability: Capability) -> Bool {
        permitted.contains(capability) && effective.contains(capability)
    }

    /// A `getcap(8)`-like summary, e.g. `cap_sys_nice=ep`; `""` when empty.
    package var description: String {
        var parts: [String] = []
        for capability in Set(permitted + effective + inheritable).sorted() {
            var flags = ""
            if effective.contains(capability) { flags += "e" }
            if inheritable.contains(capability) { flags += "i" }
            if permitted.contains(capability) { flags += "p" }
            parts.append("\(capability.name)=\(flags)")
        }
        return parts.joined(separator: " ")
    }
}

/// Why ``RealtimeIO/PrivilegeReport/fileCapabilities(path:)`` failed.
package struct FileCapabilitiesError: Error, Hashable, Sendable, CustomStringConvertible {
    package var path: String
    package var errno: Errno

    package init(path: String, errno: Errno) {
        self.path = path
        self.errno = errno
    }

    package var description: String {
        var text = "cannot read file capabilities of \(path): \(errno)"
        switch errno {
        case .noSuchFileOrDirectory:
            text += "; no such file: pass the path of the built executable"
        case .permissionDenied:
            text += "; a directory on the path is not searchable or the file is not readable"
        case .notSupported:
            text += "; the filesystem does not support extended attributes (security.capability);"
                + " install the binary on ext4/xfs/btrfs/tmpfs instead"
        default:
            break
        }
        return text
    }
}

extension PrivilegeReport {
    /// The file capabilities of the executable at `path` (`cap_get_file(3)`,
    /// the `security.capability` extended attribute set by `setcap(8)`).
    ///
    /// A file without capabilities yields an empty `FileCapabilities`, not an error.
    ///
    /// - Throws: `FileCapabilitiesError` if the file does not exist, cannot be
    ///   read, or its filesystem does not support extended attributes.
    package static func fileCapabilities(path: String) throws(FileCapabilitiesError) -> FileCapabilities {
        var status = stat()
        if stat(path, &status) != 0 {
            throw FileCapabilitiesError(path: path, errno: Errno(rawValue: errno))
        }
        guard let caps = cap_get_file(path) else {
            let error = errno
            if error == ENODATA { return FileCapabilities() }
            throw FileCapabilitiesError(path: path, errno: Errno(rawValue: error))
        }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        var result = FileCapabilities()
        for value in 0..<max(cap_max_bits(), 0) {
            let capability = Capability(rawValue: value)
            if CapabilityState.flag(caps, value, CAP_PERMITTED) { result.permitted.append(capability) }
            if CapabilityState.flag(caps, value, CAP_EFFECTIVE) { result.effective.append(capability) }
            if CapabilityState.flag(caps, value, CAP_INHERITABLE) { result.inheritable.append(capability) }
        }
        return result
    }
}
