import CRealtimeIOShims

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// CPUList — a sorted set of CPU numbers in the kernel's list syntax.
///
/// SYNOPSIS
///
///     let cpus = try CPUList(parsing: "0-3,6")   // 0,1,2,3,6
///     cpus.description                           // "0-3,6"
///
/// DESCRIPTION
///
/// The list syntax is the one the kernel prints in `/sys/devices/system/cpu/online`
/// and accepts on its command line (`isolcpus=`, `nohz_full=`), and the one
/// `taskset -c` takes: comma-separated entries, each either a single CPU number
/// `N` or an inclusive range `A-B`. A range may carry the kernel's stride suffix
/// `A-B:U/G` ("use the first U CPUs of every group of G"), e.g. `0-7:1/2` = 0,2,4,6.
/// Leading and trailing whitespace (including the newline sysfs files end with) is
/// ignored, as is whitespace around each entry.
///
/// Every CPU number is in `0...CPUList.maximumCPU` (the last bit of a `cpu_set_t`,
/// normally 1023); a list can therefore always be converted to a `cpu_set_t`.
///
/// `description` prints the compact form back (`"0-3,6"`); parsing `description`
/// yields an equal list. `Codable` uses that string form.
public struct CPUList: Hashable, Sendable, Codable, CustomStringConvertible, Sequence {
    /// The highest CPU number a `cpu_set_t` can hold (`CPU_SETSIZE - 1`).
    public static let maximumCPU: Int = Int(rtio_cpuset_capacity()) - 1

    /// The CPUs, ascending, without duplicates.
    public private(set) var cpus: [Int]

    /// The empty list.
    public init() { cpus = [] }

    /// A list of the given CPU numbers (any order; duplicates are merged).
    ///
    /// Throws `CPUListError` if a number is negative or above `CPUList.maximumCPU`.
    public init(_ cpus: some Sequence<Int>) throws(CPUListError) {
        var sorted = Array(cpus)
        sorted.sort()
        let shown = sorted.map(String.init).joined(separator: ",")
        var unique: [Int] = []
        unique.reserveCapacity(sorted.count)
        for cpu in sorted where unique.last != cpu {
            guard cpu >= 0 else {
                throw CPUListError(input: shown, token: String(cpu), reason: .negative)
            }
            guard cpu <= Self.maximumCPU else {
                throw CPUListError(
                    input: shown, token: String(cpu),
                    reason: .aboveMaximum(cpu: cpu, maximum: Self.maximumCPU))
            }
            unique.append(cpu)
        }
        self.cpus = unique
    }

    /// Parses the kernel/taskset list syntax, e.g. `"0-3,6"`.
    ///
    /// - Parameter allowEmpty: whether an empty (or all-whitespace) string is a valid,
    ///   empty list. Kernel files such as `/sys/devices/system/cpu/isolated` are empty
    ///   when nothing is configured, so readers of those pass `true`. Defaults to
    ///   `false`: a user-supplied empty list is almost always a mistake.
    /// - Throws: `CPUListError` naming the offending entry and the expected form.
    public init(parsing text: String, allowEmpty: Bool = false) throws(CPUListError) {
        let trimmed = Self.trim(Substring(text))
        if trimmed.isEmpty {
            guard allowEmpty else { throw CPUListError(input: text, token: "", reason: .empty) }
            self.cpus = []
            return
        }
        var collected: [Int] = []
        for rawEntry in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = Self.trim(rawEntry)
            try Self.parseEntry(entry, of: String(trimmed), into: &collected)
        }
        self = try CPUList(collected)
    }

    /// Parses a hexadecimal CPU mask as `taskset` takes it: `0x3`, `3`, `ff00`, or
    /// the kernel's comma-separated 32-bit words (`ffffffff,00000001`); bit n is CPU n.
    ///
    /// - Throws: `CPUListError` for an empty mask, a non-hex digit, a mask with no
    ///   bit set, or a bit above ``maximumCPU``.
    package static func parsingMask(_ text: String) throws(CPUListError) -> CPUList {
        var digits = Self.trim(Substring(text))
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
        let hex = digits.filter { $0 != "," }
        guard !hex.isEmpty else { throw CPUListError(input: text, token: text, reason: .empty) }
        var cpus: [Int] = []
        for (position, character) in hex.reversed().enumerated() {
            guard let nibble = character.hexDigitValue else {
                throw CPUListError(input: text, token: String(character), reason: .notANumber(String(character)))
            }
            for bit in 0..<4 where nibble & (1 << bit) != 0 {
                let cpu = position * 4 + bit
                guard cpu <= maximumCPU else {
                    throw CPUListError(input: text, token: text, reason: .aboveMaximum(cpu: cpu, maximum: maximumCPU))
                }
                cpus.append(cpu)
            }
        }
        guard !cpus.isEmpty else { throw CPUListError(input: text, token: text, reason: .empty) }
        return try CPUList(cpus)
    }

    /// The number of CPUs in the list.
    public var count: Int { cpus.count }

    /// Whether the list has no CPUs.
    public var isEmpty: Bool { cpus.isEmpty }

    /// Whether `cpu` is in the list.
    public func contains(_ cpu: Int) -> Bool {
        var low = 0
        var high = cpus.count
        while low < high {
            let mid = (low + high) / 2
            if cpus[mid] == cpu { return true }
            if cpus[mid] < cpu { low = mid + 1 } else { high = mid }
        }
        return false
    }

    /// Whether every CPU of this list is also in `other`.
    public func isSubset(of other: CPUList) -> Bool {
        cpus.allSatisfy { other.contains($0) }
    }

    /// The CPUs in either list.
    public func union(_ other: CPUList) -> CPUList {
        // Both operands satisfy the range invariant, so the result does too.
        CPUList(uncheckedSorted: Array(Set(cpus).union(other.cpus)).sorted())
    }

    /// The CPUs in both lists.
    public func intersection(_ other: CPUList) -> CPUList {
        CPUList(uncheckedSorted: cpus.filter { other.contains($0) })
    }

    /// The CPUs of this list that are not in `other`.
    public func subtracting(_ other: CPUList) -> CPUList {
        CPUList(uncheckedSorted: cpus.filter { !other.contains($0) })
    }

    /// The CPUs in ascending order.
    public func makeIterator() -> IndexingIterator<[Int]> { cpus.makeIterator() }

    /// The compact list form: ranges of two or more consecutive CPUs as `A-B`,
    /// others as `N`, comma-separated, ascending (`"0-3,6"`). Empty list: `""`.
    public var description: String {
        var parts: [String] = []
        var index = 0
        while index < cpus.count {
            let start = cpus[index]
            var end = start
            while index + 1 < cpus.count, cpus[index + 1] == end + 1 {
                index += 1
                end = cpus[index]
            }
            parts.append(start == end ? String(start) : "\(start)-\(end)")
            index += 1
        }
        return parts.joined(separator: ",")
    }

    // MARK: cpu_set_t (rtio_cpu_set)

    /// The list as an `rtio_cpu_set` — glibc's `cpu_set_t` layout — (for `sched_setaffinity`, `pthread_attr_setaffinity_np`).
    package var cpuSet: rtio_cpu_set {
        var set = rtio_cpu_set()
        rtio_cpuset_zero(&set)
        for cpu in cpus { rtio_cpuset_add(&set, Int32(cpu)) }
        return set
    }

    /// The CPUs whose bits are set in `set`.
    package init(_ set: rtio_cpu_set) {
        var copy = set
        let capacity = Int(rtio_cpuset_capacity())
        var found: [Int] = []
        withUnsafePointer(to: &copy) { pointer in
            var remaining = Int(rtio_cpuset_count(pointer))
            var cpu = 0
            while remaining > 0, cpu < capacity {
                if rtio_cpuset_contains(pointer, Int32(cpu)) {
                    found.append(cpu)
                    remaining -= 1
                }
                cpu += 1
            }
        }
        self.cpus = found
    }

    // MARK: Codable (string form)

    /// Decodes the string form; an empty string is the empty list.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try CPUList(parsing: text, allowEmpty: true)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    /// Encodes ``description``.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    // MARK: private

    private init(uncheckedSorted cpus: [Int]) { self.cpus = cpus }

    private static func trim(_ text: Substring) -> Substring {
        var slice = text
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return slice
    }

    /// Parses a non-negative decimal CPU number made only of ASCII digits.
    private static func number(_ text: Substring, entry: Substring, input: String) throws(CPUListError) -> Int {
        guard !text.isEmpty else {
            if entry.first == "-" {
                throw CPUListError(input: input, token: String(entry), reason: .negative)
            }
            throw CPUListError(input: input, token: String(entry), reason: .notANumber(String(text)))
        }
        guard text.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw CPUListError(input: input, token: String(entry), reason: .notANumber(String(text)))
        }
        guard let value = Int(text), value <= maximumCPU else {
            throw CPUListError(
                input: input, token: String(entry),
                reason: .aboveMaximum(cpu: Int(text) ?? Int.max, maximum: maximumCPU))
        }
        return value
    }

    private static func parseEntry(_ entry: Substring, of input: String, into cpus: inout [Int]) throws(CPUListError) {
        guard !entry.isEmpty else {
            throw CPUListError(input: input, token: "", reason: .emptyEntry)
        }
        // Optional stride suffix: the kernel's ":used/group", or taskset's ":step"
        // (every step-th CPU of the range, i.e. ":1/step").
        var rangePart = entry
        var stride: (used: Int, group: Int)? = nil
        if let colon = entry.firstIndex(of: ":") {
            rangePart = entry[..<colon]
            let strideText = entry[entry.index(after: colon)...]
            var pieces = strideText.split(separator: "/", omittingEmptySubsequences: false)
            if pieces.count == 1 { pieces = ["1", pieces[0]] }
            guard pieces.count == 2,
                  let used = Int(pieces[0]), let group = Int(pieces[1]),
                  pieces[0].allSatisfy(\.isNumber), pieces[1].allSatisfy(\.isNumber),
                  used >= 1, group >= 1, used <= group
            else {
                throw CPUListError(input: input, token: String(entry), reason: .badStride(String(strideText)))
            }
            stride = (used, group)
        }

        let bounds = rangePart.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        let start = try number(bounds[0], entry: entry, input: input)
        if bounds.count == 1 {
            guard stride == nil else {
                throw CPUListError(input: input, token: String(entry), reason: .strideWithoutRange)
            }
            cpus.append(start)
            return
        }
        let end = try number(bounds[1], entry: entry, input: input)
        guard end >= start else {
            throw CPUListError(input: input, token: String(entry), reason: .reversedRange(start: start, end: end))
        }
        if let stride {
            var cpu = start
            while cpu <= end {
                let offset = (cpu - start) % stride.group
                if offset < stride.used { cpus.append(cpu) }
                cpu += 1
            }
        } else {
            cpus.append(contentsOf: start...end)
        }
    }
}

/// Why a CPU list was rejected.
///
/// `description` reads, e.g.:
/// `invalid CPU list '3-1': range end 1 is below start 3; use a list like 0-3,6`
public struct CPUListError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong with ``token``.
    public enum Reason: Hashable, Sendable {
        /// The whole list is empty where a non-empty list is required.
        case empty
        /// Two commas with nothing between them, or a leading/trailing comma.
        case emptyEntry
        /// The entry contains something other than digits, `-`, `:` and `/`.
        case notANumber(String)
        /// A negative CPU number (or a range with no start, such as `-1`).
        case negative
        /// A range whose end is below its start.
        case reversedRange(start: Int, end: Int)
        /// A CPU number above the highest a `cpu_set_t` holds.
        case aboveMaximum(cpu: Int, maximum: Int)
        /// A malformed `:used/group` suffix.
        case badStride(String)
        /// A `:used/group` suffix on a single CPU instead of a range.
        case strideWithoutRange
    }

    /// The whole text (or array) that was being parsed.
    public var input: String
    /// The offending comma-separated entry (`""` for an empty entry or list).
    public var token: String
    /// What is wrong with it.
    public var reason: Reason

    /// An error for `token` of `input`.
    public init(input: String, token: String, reason: Reason) {
        self.input = input
        self.token = token
        self.reason = reason
    }

    /// One line: the input, the problem, and the expected form.
    public var description: String {
        let problem: String
        switch reason {
        case .empty:
            problem = "the list is empty"
        case .emptyEntry:
            problem = "empty entry (two commas in a row, or a leading or trailing comma)"
        case .notANumber(let text):
            problem = "'\(token)' is not a CPU number or range ('\(text)' is not a non-negative decimal number)"
        case .negative:
            problem = "'\(token)' is negative; CPU numbers start at 0"
        case .reversedRange(let start, let end):
            problem = "range end \(end) is below start \(start)"
        case .aboveMaximum(let cpu, let maximum):
            let shown = cpu == Int.max ? token : String(cpu)
            problem = "CPU \(shown) is above the maximum \(maximum) a cpu_set_t can hold"
        case .badStride(let text):
            problem = "'\(token)' has a malformed stride ':\(text)'; expected A-B:STEP (taskset) or A-B:USED/GROUP (kernel) with 1 <= USED <= GROUP"
        case .strideWithoutRange:
            problem = "'\(token)' has a stride but no range; strides apply to ranges like 0-7:1/2"
        }
        return "invalid CPU list '\(input)': \(problem); use a list like 0-3,6"
    }
}
