import Foundation
import Glibc

/// Reads another process's /proc files (small text files, read to EOF).
enum ProcFiles {
    /// The whole file, or nil if it cannot be read.
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `/proc/PID/comm` without the newline.
    static func command(pid: Int32) -> String? {
        read("/proc/\(pid)/comm").map { String($0.split(separator: "\n").first ?? "") }
    }

    /// The `Key:` lines of a /proc status file, values trimmed (`"VmLck" → "0 kB"`).
    static func status(_ path: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in (read(path) ?? "").split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    /// A `NNN kB` status value in KiB.
    static func kibibytes(_ value: String?) -> Int? {
        value.flatMap { Int($0.split(separator: " ").first ?? "") }
    }

    /// The one-letter state (field 3) of /proc/PID/task/TID/stat (`R`, `S`, `D`, …).
    static func threadState(pid: Int32, tid: Int32) -> String? {
        guard let text = read("/proc/\(pid)/task/\(tid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ").first.map(String.init)
    }

    /// Whether `tid` is a thread of process `pid` now.
    static func isThread(_ tid: Int32, of pid: Int32) -> Bool {
        tid > 0 && access("/proc/\(pid)/task/\(tid)", F_OK) == 0
    }
}
