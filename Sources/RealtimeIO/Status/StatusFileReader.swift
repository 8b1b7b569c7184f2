import Synchronization
import SystemPackage
import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

/// StatusFileReader — a read-only mapping of another engine's status file.
///
/// SYNOPSIS
///
///     let reader = try StatusFileReader(path: summary.path)
///     for w in reader.workers { print(w.name, w.tid, w.completed) }
///
/// DESCRIPTION
///
/// The counters are live: every read of a worker's counter loads the engine's
/// current value (relaxed; values are not mutually consistent). The views are
/// valid while the reader lives; the mapping stays valid after the engine
/// unlinks the file or exits (the counters then simply stop changing).
public final class StatusFileReader: @unchecked Sendable {
    /// One worker's record and its live counters.
    public struct Worker: @unchecked Sendable {
        /// Position among all the engine's workers.
        public var index: Int
        /// Position of the worker's group in the configuration.
        public var groupIndex: Int
        /// Thread name, `rtio-<group>-<n>`.
        public var name: String
        /// The worker's group name.
        public var group: String
        /// The CPUs the configuration asked for; nil for "any" (the process's allowed CPUs).
        public var requestedCPUs: CPUList?
        /// The scheduling the configuration asked for (what the engine was started with, before any degradation).
        public var requestedScheduling: SchedulingPolicy?
        /// The I/O priority the configuration asked for; nil for none (inherited).
        public var requestedIOPriority: IOPriority?
        /// Requests the configuration asked the worker to keep in flight
        /// (``EngineConfiguration/WorkerGroup/inFlight``; 1 in files of earlier engines).
        public var requestedInFlight: Int
        /// A view of the worker's counter block in the mapping.
        package var counters: WorkerCounters
        /// The kernel thread id (0 until the worker has started).
        public var tid: Int32 { Int32(truncatingIfNeeded: counters[.tid]) }
        /// What the worker is doing: `starting`, `spinning`, `parked`, `busy` or `exited`.
        public var state: String { counters.state.description }
        /// Requests completed.
        public var completed: UInt64 { counters[.completed] }
        /// Completed requests that failed.
        public var errors: UInt64 { counters[.errors] }
        /// Requests cancelled before they ran.
        public var cancelled: UInt64 { counters[.cancelled] }
        /// Requests waiting in the worker's ring (as last published by the worker).
        public var queueDepth: UInt64 { counters[.queueDepth] }
        /// The deepest the ring has been.
        public var maxQueueDepth: UInt64 { counters[.maxQueueDepth] }
        /// Time spent executing requests, in nanoseconds.
        public var busyNanoseconds: UInt64 { counters[.busyNanoseconds] }
    }

    /// The file's header.
    public let summary: StatusFileSummary
    /// Every worker, in engine order.
    public let workers: [Worker]
    private let base: UnsafeMutableRawPointer
    private let length: Int
    private let degradationsOffset: Int
    private let degradationsCapacity: Int

    /// What the engine started without (its ``Degradation``s), once it has
    /// published them; nil while the engine is still starting.
    public var degradations: [Degradation]? {
        let h = StatusFileLayout.Header.self
        guard base.load(fromByteOffset: h.degradationsPublished, as: UInt32.self) != 0 else { return nil }
        atomicMemoryFence(ordering: .acquiring)
        let text = StatusFileLayout.loadText(at: base + degradationsOffset, capacity: degradationsCapacity)
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 7 else { return nil }
            return Degradation(
                kind: Degradation.Kind(rawValue: f[0]) ?? .scheduling, group: f[1].isEmpty ? nil : f[1],
                worker: f[2].isEmpty ? nil : f[2], requested: f[3], applied: f[4], reason: f[5],
                remedy: f[6].isEmpty ? nil : f[6])
        }
    }

    /// Maps `path` read-only and checks its header and size.
    public init(path: String) throws(StatusFileError) {
        guard let summary = StatusFileSummary(path: path) else {
            throw .malformed(path: path, "header not written yet")
        }
        let header = try StatusFileSummary.readHeader(path)
        try StatusFileSummary.check(header, path: path)
        let (records, counters, count, degradations, degradationsCapacity) = header.withUnsafeBytes { raw in
            let h = StatusFileLayout.Header.self
            return (Int(raw.loadUnaligned(fromByteOffset: h.recordsOffset, as: UInt64.self)),
                    Int(raw.loadUnaligned(fromByteOffset: h.countersOffset, as: UInt64.self)),
                    Int(raw.loadUnaligned(fromByteOffset: h.workerCount, as: UInt32.self)),
                    Int(raw.loadUnaligned(fromByteOffset: h.degradationsOffset, as: UInt64.self)),
                    Int(raw.loadUnaligned(fromByteOffset: h.degradationsCapacity, as: UInt32.self)))
        }
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.noFollow, .closeOnExec]) } catch {
            throw .malformed(path: path, "open: \(error)")
        }
        defer { _ = try? fd.close() }
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { throw .map(path: path, Errno(rawValue: errno)) }
        let size = Int(st.st_size)
        guard records >= StatusFileLayout.headerSize, records + count * StatusFileLayout.recordSize <= counters,
              counters % CacheLine.separation == 0, counters + count * WorkerCounters.byteCount <= size,
              degradations >= records + count * StatusFileLayout.recordSize, degradations + degradationsCapacity <= counters else {
            throw .malformed(path: path, "offsets do not fit the \(size)-byte file")
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_SHARED, fd.rawValue, 0), mapped != MAP_FAILED else {
            throw .map(path: path, Errno(rawValue: errno))
        }
        base = mapped
        length = size
        degradationsOffset = degradations
        self.degradationsCapacity = degradationsCapacity
        self.summary = summary
        let R = StatusFileLayout.Record.self
        workers = (0..<count).map { i in
            let r = UnsafeRawPointer(mapped + records + i * StatusFileLayout.recordSize)
            return Worker(
                index: Int(r.loadUnaligned(fromByteOffset: R.index, as: UInt32.self)),
                groupIndex: Int(r.loadUnaligned(fromByteOffset: R.groupIndex, as: UInt32.self)),
                name: StatusFileLayout.loadText(at: r + R.name, capacity: 16),
                group: StatusFileLayout.loadText(at: r + R.group, capacity: 16),
                requestedCPUs: StatusFileLayout.requestedCPUs(StatusFileLayout.loadText(at: r + R.cpus, capacity: 64)),
                requestedScheduling: StatusFileLayout.scheduling(
                    policy: r.loadUnaligned(fromByteOffset: R.policy, as: Int32.self),
                    value: Int(r.loadUnaligned(fromByteOffset: R.priority, as: Int32.self))),
                requestedIOPriority: IOPriority(kernelValue: Int32(bitPattern:
                    r.loadUnaligned(fromByteOffset: R.ioClass, as: UInt32.self) << 13
                    | r.loadUnaligned(fromByteOffset: R.ioLevel, as: UInt32.self))),
                requestedInFlight: max(1, Int(r.loadUnaligned(fromByteOffset: R.inFlight, as: UInt32.self))),
                // Read-only pages: the view only ever loads.
                counters: WorkerCounters(viewing: mapped + counters + i * WorkerCounters.byteCount))
        }
    }

    deinit { munmap(base, length) }
}
