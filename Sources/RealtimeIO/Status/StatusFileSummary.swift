import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// StatusFileSummary — one status file's header, and whether its engine still runs.
///
/// SYNOPSIS
///
///     if let s = StatusFileSummary(path: path) { print(s.pid, s.engineName, s.workerCount, s.stale) }
///
/// DESCRIPTION
///
/// Read with plain `read(2)` (no mapping). `stale` is true when the process
/// is gone or its start time differs from the one recorded (the pid was
/// reused), or when the file is malformed and the pid in its name is not running;
/// `staleReason` then says which.
public struct StatusFileSummary: Sendable, Codable, Hashable {
    /// The status file.
    public var path: String
    /// The engine's process.
    public var pid: Int32
    /// The engine name: its group names joined with `+`.
    public var engineName: String
    /// Engine mode: `preallocated`, `onDemand` or `hybrid` (``EngineMode`` raw values).
    public var mode: String
    /// The on-demand pool's thread limit; 0 without a pool (preallocated mode).
    public var onDemandMaxThreads: Int = 0
    /// The name of the on-demand pool's worker threads (`rtio-od`); empty without a pool.
    public var onDemandThreadName: String = ""
    /// The engine's real-time share (percent of each period a real-time worker may run).
    public var realtimeSharePercent: Int = 100
    /// Workers in the engine.
    public var workerCount: Int
    /// Requested memory locking (`none`, `current`, `currentAndFuture`, `onFault`).
    public var memoryLocking: String
    /// Requested privilege policy (`required`, `bestEffort`).
    public var privilegePolicy: String
    /// `/proc/PID/stat` field 22 when the engine started.
    public var startTime: UInt64
    /// Whether the engine is gone (see the type's description).
    public var stale: Bool
    /// Why the file is stale; `nil` when it is not.
    public var staleReason: String?

    /// Reads the header of `path`; nil for a malformed file whose process (pid from the name) still runs
    /// (it may be being created).
    public init?(path: String) {
        let fileName = path.split(separator: "/").last.map(String.init) ?? path
        let namePID = fileName.split(separator: "-").first.flatMap { Int32($0) } ?? 0
        let header: [UInt8]
        do {
            header = try Self.readHeader(path)
            try Self.check(header, path: path)
        } catch {
            guard namePID <= 0 || ProcessStartTime.of(pid: namePID) == nil else { return nil }
            self.init(path: path, pid: namePID, engineName: "?", mode: "?", workerCount: 0, memoryLocking: "?",
                      privilegePolicy: "?", startTime: 0, stale: true, staleReason: "\(error)")
            return
        }
        let (odMax, odName, share) = header.withUnsafeBytes { raw in
            let h = StatusFileLayout.Header.self
            return (Int(raw.loadUnaligned(fromByteOffset: h.onDemandMaxThreads, as: UInt32.self)),
                    StatusFileLayout.loadText(at: raw.baseAddress! + h.onDemandThreadName, capacity: 16),
                    Int(raw.loadUnaligned(fromByteOffset: h.realtimeSharePercent, as: UInt32.self)))
        }
        let (pid, start, workers, name, mode, lock, policy) = header.withUnsafeBytes { raw in
            let h = StatusFileLayout.Header.self
            return (
                Int32(truncatingIfNeeded: raw.loadUnaligned(fromByteOffset: h.pid, as: Int64.self)),
                raw.loadUnaligned(fromByteOffset: h.startTime, as: UInt64.self),
                Int(raw.loadUnaligned(fromByteOffset: h.workerCount, as: UInt32.self)),
                StatusFileLayout.loadText(at: raw.baseAddress! + h.engineName, capacity: 32),
                StatusFileLayout.loadText(at: raw.baseAddress! + h.mode, capacity: 16),
                StatusFileLayout.loadText(at: raw.baseAddress! + h.memoryLocking, capacity: 16),
                StatusFileLayout.loadText(at: raw.baseAddress! + h.privilegePolicy, capacity: 16))
        }
        var reason: String? = nil
        if let now = ProcessStartTime.of(pid: pid) {
            if now != start { reason = "pid \(pid) was reused (start time \(now), file says \(start))" }
        } else {
            reason = "process \(pid) is gone"
        }
        self.init(path: path, pid: pid, engineName: name, mode: mode, workerCount: workers, memoryLocking: lock,
                  privilegePolicy: policy, startTime: start, stale: reason != nil, staleReason: reason)
        onDemandMaxThreads = odMax
        onDemandThreadName = odName
        realtimeSharePercent = share
    }

    /// A summary with the given fields.
    public init(
        path: String, pid: Int32, engineName: String, mode: String, workerCount: Int, memoryLocking: String,
        privilegePolicy: String, startTime: UInt64, stale: Bool, staleReason: String?
    ) {
        self.path = path
        self.pid = pid
        self.engineName = engineName
        self.mode = mode
        self.workerCount = workerCount
        self.memoryLocking = memoryLocking
        self.privilegePolicy = privilegePolicy
        self.startTime = startTime
        self.stale = stale
        self.staleReason = staleReason
    }

    /// The first ``StatusFileLayout/headerSize`` bytes of `path`.
    static func readHeader(_ path: String) throws(StatusFileError) -> [UInt8] {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.noFollow, .closeOnExec])
        } catch {
            throw .malformed(path: path, "open: \(error)")
        }
        defer { _ = try? fd.close() }
        var bytes = [UInt8](repeating: 0, count: StatusFileLayout.headerSize)
        let count: Int
        do { count = try bytes.withUnsafeMutableBytes { try fd.read(fromAbsoluteOffset: 0, into: $0) } } catch {
            throw .malformed(path: path, "read: \(error)")
        }
        guard count == StatusFileLayout.headerSize else {
            throw .malformed(path: path, "\(count)-byte header, expected \(StatusFileLayout.headerSize)")
        }
        return bytes
    }

    /// Checks magic, version and the fixed sizes.
    static func check(_ header: [UInt8], path: String) throws(StatusFileError) {
        let h = StatusFileLayout.Header.self
        let ok: String? = header.withUnsafeBytes { raw in
            guard StatusFileLayout.loadText(at: raw.baseAddress!, capacity: 8) == StatusFileLayout.magic else {
                return "no RTIOSTAT magic"
            }
            let version = raw.loadUnaligned(fromByteOffset: h.version, as: UInt32.self)
            guard version == StatusFileLayout.version else {
                return "format version \(version), this reader knows \(StatusFileLayout.version)"
            }
            guard raw.loadUnaligned(fromByteOffset: h.headerSize, as: UInt32.self) == StatusFileLayout.headerSize,
                  raw.loadUnaligned(fromByteOffset: h.recordSize, as: UInt32.self) == StatusFileLayout.recordSize,
                  raw.loadUnaligned(fromByteOffset: h.countersSize, as: UInt32.self) == WorkerCounters.byteCount
            else { return "unexpected header, record or counters size" }
            let workers = Int(raw.loadUnaligned(fromByteOffset: h.workerCount, as: UInt32.self))
            guard workers <= 1 << 20 else { return "\(workers) workers" }
            return nil
        }
        if let ok { throw .malformed(path: path, ok) }
    }
}
