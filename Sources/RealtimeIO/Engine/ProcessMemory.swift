import CRealtimeIOShims
import SystemPackage

#if canImport(Glibc)
import Glibc
import RealtimeIOLinux
#endif

/// The process-wide memory policy of a real-time host: `mlockall(2)` and
/// malloc tuning. Both change the whole process, not one engine, so a host
/// calls ``lock(_:tuneMalloc:)`` once, at startup, before it creates engines
/// and threads, and creates its engines with ``EngineConfiguration/memoryLocking``
/// `.none`.
///
/// ```swift
/// try ProcessMemory.lock(.currentAndFuture)   // once, in main
/// let engine = try IOEngine(configuration: config)
/// assert(engine.isMemoryLocked)
/// ```
///
/// ``EngineConfiguration/memoryLocking`` (JSON `"memoryLocking"`) remains the
/// path for hosts that only have a configuration — the C ABI and the POSIX AIO
/// drop-in: engine creation then makes this same call (with
/// ``EngineConfiguration/tuneMalloc``), checked against the privileges first,
/// and reports a refusal as a ``Degradation`` under `bestEffort`.
public enum ProcessMemory {
    /// Locks the process's memory as `locking` says and, if `tuneMalloc` (and
    /// something was locked), keeps freed heap memory in the process
    /// (`mallopt(M_MMAP_MAX, 0)`, `mallopt(M_TRIM_THRESHOLD, -1)`): a locked
    /// heap then never returns pages the next allocation would fault in again.
    /// `.none` does nothing.
    ///
    /// With `.currentAndFuture` every later mapping is locked (and faulted in)
    /// when it is made — every thread stack, in full: size them.
    ///
    /// - Throws: the `Errno` of `mlockall`: `EPERM` without `CAP_IPC_LOCK`,
    ///   `ENOMEM` above `RLIMIT_MEMLOCK` (`ulimit -l`). Nothing was changed.
    public static func lock(_ locking: EngineConfiguration.MemoryLocking, tuneMalloc: Bool = true) throws(Errno) {
        try apply(flags: flags(locking), tuneMalloc: tuneMalloc)
    }

    /// Whether any of the process's memory is locked now (`VmLck` of
    /// `/proc/self/status` above 0). Reads /proc: not for the I/O path.
    public static var isLocked: Bool {
        (ProcStatus.read("/proc/self/status")?.kibibytes("VmLck") ?? 0) > 0
    }

    /// The `mlockall` flags of `locking` (0 for `.none`).
    static func flags(_ locking: EngineConfiguration.MemoryLocking) -> Int32 {
        switch locking {
        case .none: return 0
        case .current: return MCL_CURRENT
        case .currentAndFuture: return MCL_CURRENT | MCL_FUTURE
        case .onFault: return MCL_CURRENT | MCL_FUTURE | 4 /* MCL_ONFAULT */
        }
    }

    /// `mlockall(flags)`, then the malloc tuning; the one place either happens.
    static func apply(flags: Int32, tuneMalloc: Bool) throws(Errno) {
        guard flags != 0 else { return }
        if mlockall(flags) != 0 { throw Errno(rawValue: errno) }
        if tuneMalloc { _ = rtio_malloc_keep_heap() }
    }
}
