import ArgumentParser
import Foundation
import RealtimeIO
import RealtimeIODiagnostics

/// rtio-admin's exit statuses: sysexits(3) values, the same for the same kind
/// of error in every command (`rtio-admin --help` lists them).
///
/// `check` alone also uses 1 and 2 for its verdict (a warning, a failure):
/// those are findings about the host, not errors of the command.
enum AdminExit: Int32, CaseIterable {
    /// Done.
    case ok = 0
    /// EX_USAGE: bad syntax or value, unknown target, a `--binary` that does not exist.
    case usage = 64
    /// EX_DATAERR: a status file that is not one of this format.
    case dataError = 65
    /// EX_NOINPUT: no such process, no engine in it, no such worker thread.
    case noInput = 66
    /// EX_SOFTWARE: an internal error (a bug: please report it).
    case software = 70
    /// EX_OSERR: the kernel refused a change for another reason than permission
    /// (the change was rolled back), or a socket could not be opened.
    case osError = 71
    /// EX_NOPERM: permission denied — reading another user's status file or
    /// /proc entries, or changing a thread without CAP_SYS_NICE.
    case noPermission = 77

    var meaning: String {
        switch self {
        case .ok: return "success"
        case .usage: return "usage error: bad syntax or value, unknown target, missing file (EX_USAGE)"
        case .dataError: return "a status file is malformed or of another format version (EX_DATAERR)"
        case .noInput: return "no such process, no engine in it, or the worker thread is gone (EX_NOINPUT)"
        case .software: return "internal error (EX_SOFTWARE)"
        case .osError: return "the kernel refused a change (rolled back), or a socket failed (EX_OSERR)"
        case .noPermission: return "permission denied: status file, /proc entry or thread change (EX_NOPERM)"
        }
    }

    /// The table printed by `--help`.
    static var table: String {
        (["  1, 2  check only: at least one warning (1) or failure (2)"]
            + allCases.map { "  \($0.rawValue)\(String(repeating: " ", count: 6 - "\($0.rawValue)".count))\($0.meaning)" })
            .sorted { $0.dropFirst(2).prefix(2) < $1.dropFirst(2).prefix(2) }
            .joined(separator: "\n")
    }
}

/// A failure with a one-line message and its exit status; `RTIOAdmin.main`
/// prints `Error: <message>` to stderr and exits with `exit`.
struct AdminError: Error, CustomStringConvertible {
    var description: String
    var exit: AdminExit
    init(_ message: String, _ exit: AdminExit) {
        description = message
        self.exit = exit
    }

    static func usage(_ message: String) -> AdminError { AdminError(message, .usage) }

    /// The exit status for a discovery error.
    init(_ error: DiscoveryError) {
        switch error {
        case .noSuchProcess, .noEngine: self.init(error.description, .noInput)
        case .permission: self.init(error.description, .noPermission)
        case .malformed: self.init(error.description, .dataError)
        }
    }
}

/// Encodes `nil` as an explicit JSON `null` (synthesised `Codable` omits nil
/// optionals): every field of rtio-admin's JSON is always present.
@propertyWrapper
struct Null<Value: Encodable>: Encodable {
    var wrappedValue: Value?
    init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let wrappedValue { try c.encode(wrappedValue) } else { try c.encodeNil() }
    }
}

/// Shared helpers of the rtio-admin subcommands.
enum Admin {
    /// Pretty, sorted JSON of `value`.
    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// A positive process id, or a usage error.
    static func pid(_ text: String) throws -> Int32 {
        guard let pid = Int32(text), pid > 0 else {
            throw AdminError.usage("invalid PID '\(text)': expected a positive process id (see rtio-admin list)")
        }
        return pid
    }

    /// Left-aligned columns separated by two spaces.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c + String(repeating: " ", count: max(0, widths[i] - c.count)) }
                .joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    /// `812ns`, `16.4us`, `2.1ms`, `1.20s`.
    static func duration(_ ns: UInt64?) -> String {
        guard let ns else { return "-" }
        switch ns {
        case ..<1_000: return "\(ns)ns"
        case ..<1_000_000: return String(format: "%.1fus", Double(ns) / 1e3)
        case ..<1_000_000_000: return String(format: "%.1fms", Double(ns) / 1e6)
        default: return String(format: "%.2fs", Double(ns) / 1e9)
        }
    }

    /// Writes one line to stderr.
    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }

    /// Discovery with its permission problems printed to stderr; the caller
    /// exits 77 after its output when `problems` is not empty.
    static func discover() -> StatusFile.Discovery {
        let found = StatusFile.discover()
        for p in found.problems { warn("Error: \(p.description)") }
        return found
    }
}
