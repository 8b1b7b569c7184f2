// The notification a request (or a lio_listio batch) asks for, copied out of
// its struct sigevent.
#if canImport(Glibc)
import Glibc
#endif

/// A notification to raise after a request, or a lio_listio batch, finished.
///
/// A plain value copied out of a `sigevent`, never a reference to one: the
/// caller may reuse an aiocb as soon as its final error code is published, so
/// the completer copies the aiocb's notification *before* that store, and a
/// batch's notification is copied into ``ListIOGroups`` when the batch is
/// submitted. ``AIOContext/deliver(_:)`` raises it.
struct Notification {
    var notify: Int32 = C.SIGEV_NONE
    var signo: Int32 = 0
    var value = sigval()
    /// The function of a `SIGEV_THREAD` notification.
    var function: (@convention(c) (sigval) -> Void)? = nil
    /// The target thread of a `SIGEV_THREAD_ID` notification.
    var tid: Int32 = 0

    /// No notification (`SIGEV_NONE`).
    init() {}

    init(_ e: UnsafePointer<sigevent>) {
        notify = e.pointee.sigev_notify
        signo = e.pointee.sigev_signo
        value = e.pointee.sigev_value
        if notify == C.SIGEV_THREAD { function = e.pointee._sigev_un._sigev_thread._function }
        if notify == C.SIGEV_THREAD_ID { tid = e.pointee._sigev_un._tid }
    }

    /// True unless it asks for nothing (`SIGEV_NONE`, or `SIGEV_SIGNAL` with signal 0).
    var raisesSomething: Bool {
        !(notify == C.SIGEV_NONE || (notify == C.SIGEV_SIGNAL && signo == 0))
    }

    /// False (EINVAL) for what this implementation cannot deliver.
    ///
    /// `SIGEV_THREAD` is valid here even when the ``ThreadNotifier`` is not
    /// running; submitters check that separately (EAGAIN).
    var isValid: Bool {
        switch notify {
        case C.SIGEV_NONE: return true
        // A zeroed aiocb asks for SIGEV_SIGNAL with signal 0: no signal (as with glibc).
        case C.SIGEV_SIGNAL: return signo >= 0 && signo < 65
        case C.SIGEV_THREAD: return function != nil
        case C.SIGEV_THREAD_ID: return signo > 0 && signo < 65 && tid > 0
        default: return false
        }
    }
}
