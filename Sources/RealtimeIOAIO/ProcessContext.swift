// The process's one AIOContext: started on the first aio_* call, started
// again in a forked child.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The ``AIOContext`` of this process, started lazily on first use.
///
/// ## Protocol
/// - `published` holds the live context's address (0: none yet in this
///   process image). It is stored (release) only with `startMutex` held, and
///   loaded (acquire) by every aio_* call: a non-zero address gives a fully
///   built context (engine, slots, notifier thread) without taking the lock.
/// - The first call that finds 0 takes `startMutex`, re-checks, and starts a
///   context; concurrent first calls wait on the mutex and find it published.
/// - The published context is retained for the life of the process image and
///   never freed.
/// - A start that fails is reported on stderr once and remembered
///   (`failed`, stored with `startMutex` held, loaded relaxed): every later
///   call of this process image — and of a child forked from it — fails with
///   EAGAIN at once, without the lock or another start.
///
/// ## Status file
/// The first start registers an `atexit` handler that unlinks the status file
/// of the context published in the *calling* process (a forked child's
/// handler finds its own context, or none, never the parent's); `_exit` and
/// `_Exit`, which skip `atexit` handlers (fio's job processes end with
/// `_exit`), are interposed to do the same (``ExitInterposition``). A file left
/// behind by an earlier image of the same pid (`exec` without `exit`) is
/// removed when this image starts its engine (``StatusFileCleanup``).
///
/// ## fork(2)
/// `pthread_atfork` handlers (registered by the first start) hold `startMutex`
/// across fork, so no start is half done in the child. The child has none of
/// the parent's threads: its handler forgets (leaks) the parent's context by
/// storing 0, and the child's first aio_* call starts its own engine.
///
/// `atforkRegistered` and `reportedStartFailure` are read and written only
/// with `startMutex` held.
enum ProcessContext {
    private static let published = Atomic<UInt>(0)
    /// Serialises start; held across fork by the atfork handlers.
    nonisolated(unsafe) private static let startMutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()
    nonisolated(unsafe) private static var atforkRegistered = false
    /// A start failed in this process image: no call starts again.
    private static let failed = Atomic<Bool>(false)

    /// The context of this process, started on first use; nil (errno EAGAIN)
    /// if it cannot start. Lock-free once started.
    @inline(__always)
    static func current() -> AIOContext? {
        if let context = existing() { return context }
        if failed.load(ordering: .relaxed) { return nil }
        return start()
    }

    /// The context if one was started in this process image, without starting one.
    @inline(__always)
    static func existing() -> AIOContext? {
        let address = published.load(ordering: .acquiring)
        guard address != 0 else { return nil }
        return Unmanaged<AIOContext>.fromOpaque(UnsafeRawPointer(bitPattern: address)!).takeUnretainedValue()
    }

    @inline(never)
    private static func start() -> AIOContext? {
        pthread_mutex_lock(startMutex)
        defer { pthread_mutex_unlock(startMutex) }
        if let context = existing() { return context }
        if failed.load(ordering: .relaxed) { return nil }
        if !atforkRegistered {
            atforkRegistered = true
            atexit { ProcessContext.removeStatusFile() }
            pthread_atfork(
                { pthread_mutex_lock(ProcessContext.startMutex) },
                { pthread_mutex_unlock(ProcessContext.startMutex) },
                {
                    // The child has none of the parent's threads: forget (leak) the parent's
                    // context; the child's first aio_* call starts its own engine.
                    ProcessContext.published.store(0, ordering: .releasing)
                    pthread_mutex_unlock(ProcessContext.startMutex)
                })
        }
        switch AIOContext.start() {
        case .success(let context):
            if let path = context.statusFilePath { StatusFileCleanup.removeLeftovers(besides: path, pid: context.pid) }
            published.store(UInt(bitPattern: Unmanaged.passRetained(context).toOpaque()), ordering: .releasing)
            return context
        case .failure(let f):
            failed.store(true, ordering: .relaxed)
            writeDiagnostic("rtio-aio: \(f.message); every aio_* call of this process fails with EAGAIN")
            return nil
        }
    }

    /// Unlinks the status file of this process's context (the atexit handler,
    /// and ``ExitInterposition``). The engine keeps running until the process
    /// is gone (its workers may be blocked in requests; nothing waits for
    /// them). Async-signal-safe: an atomic load, getpid and unlink of a
    /// preallocated C string.
    static func removeStatusFile() {
        guard let context = existing(), context.pid == getpid(), let path = context.statusFilePathC else { return }
        _ = unlink(path)
    }
}

/// Writes one line to stderr with a single write(2) (no stdio buffering in a
/// preloaded library).
func writeDiagnostic(_ text: String) {
    let line = text + "\n"
    _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
}
