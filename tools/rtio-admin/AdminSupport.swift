import ArgumentParser
import Foundation
import RealtimeIO

/// A failure with a one-line message; ArgumentParser prints `Error: <message>`
/// to stderr and exits with status 1.
struct AdminError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

/// Shared helpers of the rtio-admin subcommands.
enum Admin {
    /// Pretty, sorted JSON of `value`.
    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// A positive process id, or a one-line error.
    static func pid(_ text: String) throws -> Int32 {
        guard let pid = Int32(text), pid > 0 else {
            throw AdminError("invalid PID '\(text)': expected a positive process id (see rtio-admin list)")
        }
        return pid
    }

    /// Left-aligned columns separated by two spaces.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count) }
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
}
