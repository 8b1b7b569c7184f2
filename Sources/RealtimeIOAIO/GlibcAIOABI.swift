// glibc's POSIX AIO ABI as the drop-in sees it: the <aio.h>/<signal.h>
// constants it needs and the words of struct aiocb it writes.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// glibc's AIO and sigevent constants as `Int32` (Swift imports the anonymous
/// enums as `Int`).
enum C {
    static let SIGEV_SIGNAL: Int32 = 0, SIGEV_NONE: Int32 = 1, SIGEV_THREAD: Int32 = 2, SIGEV_THREAD_ID: Int32 = 4
    static let LIO_READ: Int32 = 0, LIO_WRITE: Int32 = 1, LIO_NOP: Int32 = 2
    static let LIO_WAIT: Int32 = 0, LIO_NOWAIT: Int32 = 1
    static let AIO_CANCELED: Int32 = 0, AIO_NOTCANCELED: Int32 = 1, AIO_ALLDONE: Int32 = 2
}

/// The drop-in's per-request state, kept in the aiocb's `__policy` word.
///
/// glibc's own AIO code is not loaded for these calls and callers do not use
/// `__policy`, so the word is free for the drop-in. The values are distinctive
/// so that a zeroed or never-submitted aiocb reads as ``idle``.
///
/// ## Transitions
/// All stores are relaxed; each is published by the release store of
/// `__error_code` that follows it (see ``AIOCB``).
/// - `idle` → `inProgress`: the submitter, before it hands the request to the
///   engine.
/// - `inProgress` → `idle`: the submitter, when the engine refused the request.
/// - `inProgress` → `completed`: the worker that completes the request, or
///   lio_listio's submitter for a member it could not submit.
/// - `completed` → `returned`: the first `aio_return`, by compare-exchange
///   after its acquire load of `__error_code` saw a final value; a second
///   `aio_return` finds `returned` and fails with EINVAL.
enum AIOState: Int32 {
    case idle = 0
    case inProgress = 0x5254_0001
    case completed = 0x5254_0002
    case returned = 0x5254_0003
}

/// The words of glibc's struct aiocb (== struct aiocb64 on LP64) that the
/// drop-in writes, and atomic views of them.
///
/// ## Ownership and ordering
/// - `__error_code` is the publication word. Whoever changes a request's
///   state — the submitter (`EINPROGRESS`, or the errno of a refused submit)
///   and the worker completing it (0 or the errno) — writes `__return_value`
///   and `__policy` first, then stores `__error_code` with *release*. Readers
///   (`aio_error`, `aio_return`, `aio_suspend`, `lio_listio(LIO_WAIT)`) load it
///   with *acquire* before they read `__return_value`.
/// - `__return_value` is a plain word, written only before that release store.
/// - `__policy` holds ``AIOState``.
/// - Once the final error code is published the aiocb is the caller's again:
///   nothing in the drop-in reads it afterwards (the completer copies the
///   notification out of `aio_sigevent` before the store).
enum AIOCB {
    // glibc's LP64 layout as constants (a `static let` from key paths costs a
    // once-check per access on the hot path); ``layoutMatches`` checks them
    // against the imported struct once, when the context starts.
    @inline(__always) static var errorCode: Int { 112 }
    @inline(__always) static var returnValue: Int { 120 }
    @inline(__always) static var state: Int { 108 }

    /// True if the constants above are those of the `struct aiocb` this was compiled against.
    static var layoutMatches: Bool {
        MemoryLayout<aiocb>.offset(of: \aiocb.__error_code) == errorCode
            && MemoryLayout<aiocb>.offset(of: \aiocb.__return_value) == returnValue
            && MemoryLayout<aiocb>.offset(of: \aiocb.__policy) == state
    }

    /// `__error_code` as an atomic.
    @inline(__always)
    static func error(_ cb: UnsafePointer<aiocb>) -> UnsafeMutablePointer<Atomic<Int32>> {
        UnsafeMutableRawPointer(mutating: cb).advanced(by: errorCode).assumingMemoryBound(to: Atomic<Int32>.self)
    }

    /// `__policy` (the ``AIOState``) as an atomic.
    @inline(__always)
    static func stateWord(_ cb: UnsafePointer<aiocb>) -> UnsafeMutablePointer<Atomic<Int32>> {
        UnsafeMutableRawPointer(mutating: cb).advanced(by: state).assumingMemoryBound(to: Atomic<Int32>.self)
    }
}
