// Status files of this pid left by an earlier process image.
#if canImport(Glibc)
import Glibc
#endif

/// Removes the drop-in status files an earlier image of this pid left behind.
///
/// `exec` replaces the image without running `atexit` handlers, so the old
/// image's `<pid>-<name>.status` stays; the new image's engine then gets
/// `<pid>-<name>-1.status`. When the drop-in starts its engine, every other
/// `<pid>-<name>[-N].status` in the same directory is such a leftover: one
/// process image runs one drop-in engine. Runs once per image, at start.
enum StatusFileCleanup {
    static func removeLeftovers(besides path: String, pid: pid_t) {
        guard let slash = path.lastIndex(of: "/") else { return }
        let directory = String(path[..<slash])
        let own = String(path[path.index(after: slash)...])
        let prefix = "\(pid)-"
        guard own.hasPrefix(prefix), own.hasSuffix(".status") else { return }
        var name = String(own.dropFirst(prefix.count).dropLast(".status".count))
        // Strip a "-N" sequence suffix: the engine's base name.
        if let dash = name.lastIndex(of: "-"), name[name.index(after: dash)...].allSatisfy(\.isNumber),
           name.index(after: dash) != name.endIndex {
            name = String(name[..<dash])
        }
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let file = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard file != own, file.hasPrefix(prefix + name), file.hasSuffix(".status") else { continue }
            let rest = file.dropFirst((prefix + name).count).dropLast(".status".count)
            guard rest.isEmpty || (rest.first == "-" && rest.count > 1 && rest.dropFirst().allSatisfy(\.isNumber)) else { continue }
            _ = unlink(directory + "/" + file)
        }
    }
}
