import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// StatusFile — an engine's live status, published as a memory-mapped file
/// that `rtio-admin` (or any reader) maps read-only.
///
/// SYNOPSIS
///
///     let file = try StatusFile(configuration: config)      // engine start
///     let counters = WorkerCounters(initializing: file.countersMemory + i * WorkerCounters.byteCount)
///     file.unlink()                                          // engine shutdown
///
///     let reader = try StatusFileReader(path: path)               // readers
///
/// DESCRIPTION
///
/// The file lives in ``directory`` (`$XDG_RUNTIME_DIR/rtio`, else `/dev/shm/rtio`,
/// created mode 0700) and is named `<pid>-<engine name>.status`, mode 0600. The
/// engine name is its group names joined with `+` (e.g. `io+log`); a second
/// engine with the same name in the same process gets a `-N` suffix.
///
/// The workers' ``WorkerCounters`` blocks live *in* the mapping: workers update
/// the file directly, with the same relaxed stores as anonymous memory — no copy,
/// no syscall, nothing extra on the I/O path. Under `mlockall` the pages are
/// locked like any other engine memory (tmpfs pages, never written back).
///
/// FORMAT (version 2; all integers little-endian host order, offsets in bytes)
///
///     header (256 bytes)
///       0   magic "RTIOSTAT"          8   version u32 (2)     12  header size u32 (256)
///       16  pid i64                   24  process start time u64 (/proc/PID/stat field 22, clock ticks)
///       32  worker count u32          36  record size u32 (128)
///       40  records offset u64        48  counters offset u64  56  counters size u32 (WorkerCounters.byteCount)
///       64  engine name [32]          96  mode [16] (EngineMode raw value: preallocated, onDemand, hybrid)
///       112 memory locking [16]       128 privilege policy [16]
///       144 degradations offset u64   152 degradations capacity u32   156 degradations published u32 (0/1)
///       160 on-demand max threads u32 (0: no on-demand pool)          164 real-time share percent u32
///       168 on-demand thread name [16] ("rtio-od")                     184… reserved (0)
///     worker records (record size each, at records offset)
///       0   thread name [16]          16  group name [16]
///       32  worker index u32          36  group index u32
///       40  requested policy i32 (SCHED_*)   44  requested priority (FIFO/RR) or nice (OTHER/BATCH) i32
///       48  requested I/O priority class u32 (0 none, 1 rt, 2 be, 3 idle)   52 its level u32
///       56  requested requests in flight u32 (WorkerGroup.inFlight; 0, read as 1, from earlier engines)   60… reserved (0)
///       64  requested CPUs [64]: a CPU list, or "any"
///     degradations (capacity bytes at degradations offset): one line per
///       degradation, fields separated by TAB — kind, group, worker, requested,
///       applied, reason, remedy — written once when the engine has started, then
///       "published" is set (release); empty fields are "".
///     counters (counters size each, at counters offset, 128-byte aligned)
///       the ``WorkerCounters`` layout; the worker's tid is its `.tid` word,
///       written by the worker itself once it runs (0 before).
///
/// Text fields are NUL-padded UTF-8, truncated to fit. The magic is written last,
/// so a reader that sees it sees a complete header.
///
/// STALE FILES
///
/// A file whose process is gone, or whose pid now belongs to a process with a
/// different start time (pid reuse), is stale: an engine that crashed never
/// unlinked it. ``StatusFileSummary`` flags such files (listing and removal are
/// RealtimeIODiagnostics' `StatusFile.list()` / `removeStale()`).
///
/// ERRORS
///
/// ``StatusFileError``, one line naming the path and the failed call.
package final class StatusFile: @unchecked Sendable {
    /// Where the file is.
    package let path: String
    /// The engine name in the file (and its name).
    package let engineName: String
    /// The first counters block; worker `i`'s is at `+ i * WorkerCounters.byteCount`.
    package let countersMemory: UnsafeMutableRawPointer
    private let base: UnsafeMutableRawPointer
    private let length: Int
    private let unlinked = Atomic<Bool>(false)

    /// Distinguishes same-named engines of one process.
    private static let sequence = Atomic<Int>(0)

    /// Creates, sizes and maps the file, and fills in the header and worker records.
    ///
    /// - Throws: ``StatusFileError`` if the directory or file cannot be created or mapped.
    package init(configuration: EngineConfiguration, mode: EngineMode = .preallocated) throws(StatusFileError) {
        let directory = Self.directory
        try Self.makeDirectory(directory)
        let workers = configuration.workerCount
        let layout = StatusFileLayout(workerCount: workers)
        let baseName = String(decoding: configuration.groups.map(\.name).joined(separator: "+").utf8.prefix(24), as: UTF8.self)
        var name = baseName.isEmpty ? "engine" : baseName
        var fd: FileDescriptor?
        var filePath = ""
        for _ in 0..<64 {
            filePath = "\(directory)/\(getpid())-\(name).status"
            do {
                fd = try FileDescriptor.open(
                    FilePath(filePath), .readWrite, options: [.create, .exclusiveCreate, .noFollow, .closeOnExec],
                    permissions: [.ownerReadWrite])
                break
            } catch Errno.fileExists {
                name = "\(baseName)-\(Self.sequence.add(1, ordering: .relaxed).newValue + 1)"
            } catch {
                throw .create(path: filePath, error as? Errno ?? .ioError)
            }
        }
        guard let fd else { throw .create(path: filePath, .fileExists) }
        defer { _ = try? fd.close() }
        // Mode 0600 regardless of the umask.
        guard fchmod(fd.rawValue, 0o600) == 0, ftruncate(fd.rawValue, off_t(layout.fileSize)) == 0 else {
            let e = Errno(rawValue: errno)
            Glibc.unlink(filePath)
            throw .create(path: filePath, e)
        }
        guard let mapped = mmap(nil, layout.fileSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd.rawValue, 0),
              mapped != MAP_FAILED else {
            let e = Errno(rawValue: errno)
            Glibc.unlink(filePath)
            throw .map(path: filePath, e)
        }
        base = mapped
        length = layout.fileSize
        path = filePath
        engineName = name
        countersMemory = mapped + layout.countersOffset

        let h = StatusFileLayout.Header.self
        mapped.storeBytes(of: UInt32(StatusFileLayout.version), toByteOffset: h.version, as: UInt32.self)
        mapped.storeBytes(of: UInt32(StatusFileLayout.headerSize), toByteOffset: h.headerSize, as: UInt32.self)
        mapped.storeBytes(of: Int64(getpid()), toByteOffset: h.pid, as: Int64.self)
        mapped.storeBytes(of: ProcessStartTime.ofSelf() ?? 0, toByteOffset: h.startTime, as: UInt64.self)
        mapped.storeBytes(of: UInt32(workers), toByteOffset: h.workerCount, as: UInt32.self)
        mapped.storeBytes(of: UInt32(StatusFileLayout.recordSize), toByteOffset: h.recordSize, as: UInt32.self)
        mapped.storeBytes(of: UInt64(layout.recordsOffset), toByteOffset: h.recordsOffset, as: UInt64.self)
        mapped.storeBytes(of: UInt64(layout.countersOffset), toByteOffset: h.countersOffset, as: UInt64.self)
        mapped.storeBytes(of: UInt32(WorkerCounters.byteCount), toByteOffset: h.countersSize, as: UInt32.self)
        StatusFileLayout.storeText(name, at: mapped + h.engineName, capacity: 32)
        StatusFileLayout.storeText(mode.rawValue, at: mapped + h.mode, capacity: 16)
        mapped.storeBytes(of: UInt64(layout.degradationsOffset), toByteOffset: h.degradationsOffset, as: UInt64.self)
        mapped.storeBytes(of: UInt32(StatusFileLayout.degradationsCapacity), toByteOffset: h.degradationsCapacity, as: UInt32.self)
        let onDemandThreads = mode == .preallocated ? 0 : (configuration.onDemand?.maxThreads ?? 0)
        mapped.storeBytes(of: UInt32(clamping: onDemandThreads), toByteOffset: h.onDemandMaxThreads, as: UInt32.self)
        mapped.storeBytes(of: UInt32(clamping: configuration.realtimeSharePercent), toByteOffset: h.realtimeSharePercent, as: UInt32.self)
        StatusFileLayout.storeText(onDemandThreads > 0 ? "rtio-od" : "", at: mapped + h.onDemandThreadName, capacity: 16)
        StatusFileLayout.storeText(configuration.memoryLocking.rawValue, at: mapped + h.memoryLocking, capacity: 16)
        StatusFileLayout.storeText(configuration.privilegePolicy.rawValue, at: mapped + h.privilegePolicy, capacity: 16)
        var index = 0
        for (g, group) in configuration.groups.enumerated() {
            for w in 0..<group.workers {
                let r = mapped + layout.recordsOffset + index * StatusFileLayout.recordSize
                let R = StatusFileLayout.Record.self
                StatusFileLayout.storeText("rtio-\(group.name)-\(w)", at: r + R.name, capacity: 16)
                StatusFileLayout.storeText(group.name, at: r + R.group, capacity: 16)
                r.storeBytes(of: UInt32(index), toByteOffset: R.index, as: UInt32.self)
                r.storeBytes(of: UInt32(g), toByteOffset: R.groupIndex, as: UInt32.self)
                let cpus = group.requestedCPUs(worker: w).map { "\($0)" } ?? "any"
                r.storeBytes(of: group.scheduling.kernelPolicy, toByteOffset: R.policy, as: Int32.self)
                let value = group.scheduling.nice ?? group.scheduling.realtimePriority
                r.storeBytes(of: Int32(clamping: value), toByteOffset: R.priority, as: Int32.self)
                if let io = group.ioPriority {
                    let raw = io.kernelValue
                    r.storeBytes(of: UInt32(raw >> 13), toByteOffset: R.ioClass, as: UInt32.self)
                    r.storeBytes(of: UInt32(raw & 0x1fff), toByteOffset: R.ioLevel, as: UInt32.self)
                }
                r.storeBytes(of: UInt32(clamping: group.inFlight), toByteOffset: R.inFlight, as: UInt32.self)
                StatusFileLayout.storeText(cpus, at: r + R.cpus, capacity: 64)
                index += 1
            }
        }
        atomicMemoryFence(ordering: .releasing)
        StatusFileLayout.storeText(StatusFileLayout.magic, at: mapped, capacity: 8)
    }

    /// Publishes what the engine started without, once, when it has started
    /// (engine start-up only; never on the I/O path). Lines that do not fit
    /// the area are dropped whole.
    package func publish(degradations: [Degradation]) {
        let h = StatusFileLayout.Header.self
        var text = ""
        for d in degradations {
            let fields = [d.kind.rawValue, d.group ?? "", d.worker ?? "", d.requested, d.applied, d.reason, d.remedy ?? ""]
            let line = fields.map { String($0.map { $0 == "\t" || $0 == "\n" ? " " : $0 }) }.joined(separator: "\t") + "\n"
            guard text.utf8.count + line.utf8.count < StatusFileLayout.degradationsCapacity else { break }
            text += line
        }
        let offset = Int(base.load(fromByteOffset: h.degradationsOffset, as: UInt64.self))
        StatusFileLayout.storeText(text, at: base + offset, capacity: StatusFileLayout.degradationsCapacity)
        atomicMemoryFence(ordering: .releasing)
        base.storeBytes(of: UInt32(1), toByteOffset: h.degradationsPublished, as: UInt32.self)
    }

    /// Removes the file from the directory (the mapping stays valid). Idempotent.
    package func unlink() {
        guard !unlinked.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = Glibc.unlink(path)
    }

    /// Unlinks (if not yet done) and unmaps. The counters views die with it.
    deinit {
        unlink()
        munmap(base, length)
    }

    // MARK: - Directory

    /// `$XDG_RUNTIME_DIR/rtio` if that variable is set, else `/dev/shm/rtio`.
    package static var directory: String {
        if let xdg = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), xdg.hasPrefix("/") {
            return xdg + "/rtio"
        }
        return fallbackDirectory
    }

    /// The directory used without `$XDG_RUNTIME_DIR`.
    package static let fallbackDirectory = "/dev/shm/rtio"

    /// Every directory readers search: ``directory`` and ``fallbackDirectory`` (an
    /// engine started with a different environment still shows up).
    package static var searchDirectories: [String] {
        directory == fallbackDirectory ? [fallbackDirectory] : [directory, fallbackDirectory]
    }

    /// Creates `path` mode 0700 if absent; refuses a directory someone else owns or
    /// others can write (a planted directory could redirect the files).
    package static func makeDirectory(_ path: String) throws(StatusFileError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw .directory(path: path, Errno(rawValue: errno), "mkdir")
        }
        var st = stat()
        guard lstat(path, &st) == 0 else { throw .directory(path: path, Errno(rawValue: errno), "lstat") }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw .unsafeDirectory(path: path, "not a directory") }
        guard st.st_uid == geteuid() else { throw .unsafeDirectory(path: path, "owned by uid \(st.st_uid), not \(geteuid())") }
        guard st.st_mode & 0o022 == 0 else {
            throw .unsafeDirectory(path: path, "writable by group or others (mode \(String(st.st_mode & 0o777, radix: 8)))")
        }
    }
}

/// Offsets of the status-file format (see ``StatusFile``).
struct StatusFileLayout {
    static let magic = "RTIOSTAT"
    static let version = 2
    static let headerSize = 256
    static let recordSize = 128

    enum Header {
        static let magic = 0, version = 8, headerSize = 12, pid = 16, startTime = 24
        static let workerCount = 32, recordSize = 36, recordsOffset = 40, countersOffset = 48, countersSize = 56
        static let engineName = 64, mode = 96, memoryLocking = 112, privilegePolicy = 128
        static let degradationsOffset = 144, degradationsCapacity = 152, degradationsPublished = 156
        static let onDemandMaxThreads = 160, realtimeSharePercent = 164, onDemandThreadName = 168
    }

    enum Record {
        static let name = 0, group = 16, index = 32, groupIndex = 36
        static let policy = 40, priority = 44, ioClass = 48, ioLevel = 52, inFlight = 56, cpus = 64
    }

    /// Bytes of the degradations text area.
    static let degradationsCapacity = 4096

    let recordsOffset: Int
    let degradationsOffset: Int
    let countersOffset: Int
    let fileSize: Int

    init(workerCount: Int) {
        recordsOffset = Self.headerSize
        degradationsOffset = Self.headerSize + workerCount * Self.recordSize
        countersOffset = CacheLine.roundUp(degradationsOffset + Self.degradationsCapacity, to: CacheLine.separation)
        fileSize = countersOffset + max(1, workerCount) * WorkerCounters.byteCount
    }

    static func storeText(_ text: String, at p: UnsafeMutableRawPointer, capacity: Int) {
        var bytes = Array(text.utf8.prefix(capacity))
        // Do not cut a multi-byte character in half.
        while !bytes.isEmpty && String(validating: bytes, as: UTF8.self) == nil { bytes.removeLast() }
        for i in 0..<capacity { p.storeBytes(of: i < bytes.count ? bytes[i] : 0, toByteOffset: i, as: UInt8.self) }
    }

    /// "any" → nil; otherwise the list (nil if unreadable).
    static func requestedCPUs(_ text: String) -> CPUList? {
        text == "any" || text.isEmpty ? nil : try? CPUList(parsing: text)
    }

    /// A requested scheduling from its kernel policy number and priority or nice value.
    static func scheduling(policy: Int32, value: Int) -> SchedulingPolicy? {
        switch policy {
        case SCHED_FIFO: return .fifo(priority: value)
        case SCHED_RR: return .rr(priority: value)
        case SCHED_OTHER: return .other(nice: value)
        case SchedulingPolicy.schedBatch: return .batch(nice: value)
        case SchedulingPolicy.schedIdle: return .idle
        default: return nil
        }
    }

    static func loadText(at p: UnsafeRawPointer, capacity: Int) -> String {
        let bytes = UnsafeRawBufferPointer(start: p, count: capacity)
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}

/// Why a status file could not be created, found or read.
public enum StatusFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The status directory could not be created or inspected (the failed call is named).
    case directory(path: String, Errno, String)
    /// The status directory is not a private directory of this user.
    case unsafeDirectory(path: String, String)
    /// The file could not be created or sized.
    case create(path: String, Errno)
    /// The file could not be mapped.
    case map(path: String, Errno)
    /// The file is not a complete status file of this format version.
    case malformed(path: String, String)
    /// A process publishes no live engine.
    case noEngine(pid: Int32, String)

    /// One line naming the path (or pid) and the problem.
    public var description: String {
        switch self {
        case .directory(let path, let e, let call): return "status directory \(path): \(call) failed: \(e)"
        case .unsafeDirectory(let path, let why): return "status directory \(path) is unsafe: \(why); remove it or fix its owner and mode (0700)"
        case .create(let path, let e): return "cannot create status file \(path): \(e)"
        case .map(let path, let e): return "cannot map status file \(path): \(e)"
        case .malformed(let path, let why): return "\(path) is not a RealtimeIO status file: \(why)"
        case .noEngine(let pid, let why): return "no running RealtimeIO engine in pid \(pid): \(why)"
        }
    }
}
