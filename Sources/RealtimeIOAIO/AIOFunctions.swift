// The exported POSIX AIO functions (and their *64 twins; struct aiocb64 has
// the layout of struct aiocb on LP64). Loaded with LD_PRELOAD, these take
// precedence over glibc's (libc.so.6 / librt.so.1) for the whole process.
import CRealtimeIOShims
import RealtimeIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

@inline(__always)
private func fail(_ e: Int32) -> Int32 {
    errno = e
    return -1
}

@inline(__always)
private func enqueue(_ cb: UnsafeMutablePointer<aiocb>?, opcode: Int32, fsyncData: Bool = false) -> Int32 {
    guard let cb else { return fail(EINVAL) }
    guard let context = ProcessContext.current() else { return fail(EAGAIN) }
    let e = context.submit(cb, opcode: opcode, fsyncData: fsyncData)
    return e == 0 ? 0 : fail(e)
}

// MARK: aio_read / aio_write / aio_fsync

@_cdecl("aio_read")
public func rtio_aio_read(_ cb: UnsafeMutablePointer<aiocb>?) -> Int32 { enqueue(cb, opcode: C.LIO_READ) }
@_cdecl("aio_read64")
public func rtio_aio_read64(_ cb: UnsafeMutablePointer<aiocb>?) -> Int32 { enqueue(cb, opcode: C.LIO_READ) }

@_cdecl("aio_write")
public func rtio_aio_write(_ cb: UnsafeMutablePointer<aiocb>?) -> Int32 { enqueue(cb, opcode: C.LIO_WRITE) }
@_cdecl("aio_write64")
public func rtio_aio_write64(_ cb: UnsafeMutablePointer<aiocb>?) -> Int32 { enqueue(cb, opcode: C.LIO_WRITE) }

/// As glibc: a bad operation is EINVAL and a descriptor that is not open
/// fails the call with EBADF (one `fcntl`; reads and writes report it through
/// `aio_error` instead). `aio_reqprio` is not looked at.
private func fsyncImpl(_ op: Int32, _ cb: UnsafeMutablePointer<aiocb>?) -> Int32 {
    guard op == O_SYNC || op == O_DSYNC else { return fail(EINVAL) }
    guard let cb else { return fail(EINVAL) }
    guard fcntl(cb.pointee.aio_fildes, F_GETFL) >= 0 else { return fail(EBADF) }
    return enqueue(cb, opcode: AIOContext.fsyncOpcode, fsyncData: op == O_DSYNC)
}
@_cdecl("aio_fsync")
public func rtio_aio_fsync(_ op: Int32, _ cb: UnsafeMutablePointer<aiocb>?) -> Int32 { fsyncImpl(op, cb) }
@_cdecl("aio_fsync64")
public func rtio_aio_fsync64(_ op: Int32, _ cb: UnsafeMutablePointer<aiocb>?) -> Int32 { fsyncImpl(op, cb) }

// MARK: aio_error / aio_return

private func errorImpl(_ cb: UnsafePointer<aiocb>?) -> Int32 {
    guard let cb else { return fail(EINVAL) }
    return AIOCB.error(cb).pointee.load(ordering: .acquiring)
}
@_cdecl("aio_error")
public func rtio_aio_error(_ cb: UnsafePointer<aiocb>?) -> Int32 { errorImpl(cb) }
@_cdecl("aio_error64")
public func rtio_aio_error64(_ cb: UnsafePointer<aiocb>?) -> Int32 { errorImpl(cb) }

/// The result once: a second call fails with EINVAL. A call before completion
/// (POSIX: result undefined) answers as glibc does — the placeholder 0 stored at
/// submission, `errno` untouched, the result still retrievable once done.
private func returnImpl(_ cb: UnsafeMutablePointer<aiocb>?) -> Int {
    guard let cb else { return Int(fail(EINVAL)) }
    if AIOCB.error(cb).pointee.load(ordering: .acquiring) == EINPROGRESS { return 0 }
    guard AIOCB.stateWord(cb).pointee.compareExchange(
              expected: AIOState.completed.rawValue, desired: AIOState.returned.rawValue, ordering: .acquiring).exchanged
    else { return Int(fail(EINVAL)) }
    let value = cb.pointee.__return_value
    if value < 0 { errno = AIOCB.error(cb).pointee.load(ordering: .relaxed) }
    return value
}
@_cdecl("aio_return")
public func rtio_aio_return(_ cb: UnsafeMutablePointer<aiocb>?) -> Int { returnImpl(cb) }
@_cdecl("aio_return64")
public func rtio_aio_return64(_ cb: UnsafeMutablePointer<aiocb>?) -> Int { returnImpl(cb) }

// MARK: aio_suspend

/// The monotonic deadline of an aio_suspend timeout: 0 for none (or one so
/// far away that it cannot pass — saturated, never wrapped into the past).
private func suspendDeadline(_ timeout: UnsafePointer<timespec>) -> UInt64 {
    let (ns, overflow) = UInt64(timeout.pointee.tv_sec).multipliedReportingOverflow(by: 1_000_000_000)
    guard !overflow else { return 0 }
    let (relative, overflow2) = ns.addingReportingOverflow(UInt64(timeout.pointee.tv_nsec))
    let (deadline, overflow3) = rtio_monotonic_ns().addingReportingOverflow(relative)
    guard !overflow2, !overflow3, deadline <= UInt64(Int64.max) else { return 0 }
    return max(deadline, 1)
}

/// Returns 0 when any listed request is no longer in progress — or when none
/// is listed (`nent` 0, or only NULL entries), as glibc does.
private func suspendImpl(_ list: UnsafePointer<UnsafePointer<aiocb>?>?, _ nent: Int32, _ timeout: UnsafePointer<timespec>?) -> Int32 {
    guard nent >= 0, list != nil || nent == 0 else { return fail(EINVAL) }
    var deadline: UInt64 = 0
    if let timeout {
        guard timeout.pointee.tv_sec >= 0, timeout.pointee.tv_nsec >= 0, timeout.pointee.tv_nsec < 1_000_000_000 else { return fail(EINVAL) }
        deadline = suspendDeadline(timeout)
    }
    var listed = false
    for i in 0..<Int(nent) {
        guard let cb = list![i] else { continue }
        listed = true
        if AIOCB.error(cb).pointee.load(ordering: .acquiring) != EINPROGRESS { return 0 }
    }
    guard listed else { return 0 }
    guard let context = ProcessContext.current() else { return fail(EAGAIN) }
    while true {
        let seen = context.completions.current
        var i = 0
        while i < Int(nent) {
            if let cb = list![i], AIOCB.error(cb).pointee.load(ordering: .acquiring) != EINPROGRESS { return 0 }
            i += 1
        }
        let rc = context.completions.wait(seen: seen, deadline: deadline)
        if rc != 0 { return fail(rc) }
    }
}
@_cdecl("aio_suspend")
public func rtio_aio_suspend(_ list: UnsafePointer<UnsafePointer<aiocb>?>?, _ nent: Int32, _ timeout: UnsafePointer<timespec>?) -> Int32 {
    suspendImpl(list, nent, timeout)
}
@_cdecl("aio_suspend64")
public func rtio_aio_suspend64(_ list: UnsafePointer<UnsafePointer<aiocb>?>?, _ nent: Int32, _ timeout: UnsafePointer<timespec>?) -> Int32 {
    suspendImpl(list, nent, timeout)
}

// MARK: aio_cancel

/// As POSIX and glibc: a request not started yet is withdrawn (AIO_CANCELED;
/// it completes with ECANCELED, and its notification is delivered, before the
/// call returns); a running one completes normally (AIO_NOTCANCELED); a
/// finished one is AIO_ALLDONE. With a NULL aiocb, every request of `fd`:
/// AIO_NOTCANCELED if any could not be cancelled. EBADF for a descriptor that
/// is not open, EINVAL for an aiocb of another descriptor.
private func cancelImpl(_ fd: Int32, _ cb: UnsafeMutablePointer<aiocb>?) -> Int32 {
    guard fcntl(fd, F_GETFL) >= 0 else { return fail(EBADF) }
    if let cb {
        guard cb.pointee.aio_fildes == fd else { return fail(EINVAL) }
        guard AIOCB.error(cb).pointee.load(ordering: .acquiring) == EINPROGRESS else { return C.AIO_ALLDONE }
    }
    guard let context = ProcessContext.existing() else { return C.AIO_ALLDONE }
    return context.cancel(fd: fd, only: cb.map { UnsafePointer($0) })
}
@_cdecl("aio_cancel")
public func rtio_aio_cancel(_ fd: Int32, _ cb: UnsafeMutablePointer<aiocb>?) -> Int32 { cancelImpl(fd, cb) }
@_cdecl("aio_cancel64")
public func rtio_aio_cancel64(_ fd: Int32, _ cb: UnsafeMutablePointer<aiocb>?) -> Int32 { cancelImpl(fd, cb) }

// MARK: lio_listio

/// As POSIX and glibc: each entry is submitted as if by aio_read/aio_write
/// (its own `aio_sigevent` is delivered), plus the list's sigevent
/// (`LIO_NOWAIT`) once every entry finished. An invalid `aio_lio_opcode`
/// gives that entry EINVAL. The call fails with EAGAIN only when an entry
/// could not be queued for lack of resources (its `aio_error` is EAGAIN),
/// else with EIO when an entry failed at submit — or, with `LIO_WAIT`, during
/// execution; `aio_error` of each entry tells which.
private func listioImpl(_ mode: Int32, _ list: UnsafePointer<UnsafeMutablePointer<aiocb>?>?, _ nent: Int32,
                        _ sevp: UnsafeMutablePointer<sigevent>?) -> Int32 {
    guard mode == C.LIO_WAIT || mode == C.LIO_NOWAIT, nent >= 0, list != nil || nent == 0 else { return fail(EINVAL) }
    guard let context = ProcessContext.current() else { return fail(EAGAIN) }
    guard Int(nent) <= context.capacity else { return fail(EINVAL) }
    var notification = Notification()
    if mode == C.LIO_NOWAIT, let sevp {
        notification = Notification(sevp)
        guard notification.isValid else { return fail(EINVAL) }
        if notification.notify == C.SIGEV_THREAD && !context.threadNotifier.isRunning { return fail(EAGAIN) }
    }
    var group: Int32 = -1
    if notification.raisesSomething {
        guard let g = context.listIOGroups.claim(notification) else { return fail(EAGAIN) }
        group = Int32(g)
    }
    var exhausted = false, failed = false
    for i in 0..<Int(nent) {
        guard let cb = list![i] else { continue }
        let op = cb.pointee.aio_lio_opcode
        if op == C.LIO_NOP { continue }
        var e = EINVAL
        if op == C.LIO_READ || op == C.LIO_WRITE {
            if group >= 0 { context.listIOGroups.addMember(Int(group)) }
            e = context.submit(cb, opcode: op, group: group)
            if e != 0 && group >= 0 { context.finishGroupMember(Int(group)) }  // the refused member's reference
        }
        if e != 0 {
            if e == EAGAIN { exhausted = true } else { failed = true }
            // The refused entry reports its error through aio_error/aio_return.
            cb.pointee.__return_value = -1
            AIOCB.stateWord(cb).pointee.store(AIOState.completed.rawValue, ordering: .relaxed)
            AIOCB.error(cb).pointee.store(e, ordering: .releasing)
        }
    }
    if group >= 0 { context.finishGroupMember(Int(group)) }  // the submitter's reference
    if mode == C.LIO_WAIT {
        while true {
            let seen = context.completions.current
            var pending = false
            for i in 0..<Int(nent) {
                if let cb = list![i], cb.pointee.aio_lio_opcode != C.LIO_NOP,
                   AIOCB.error(cb).pointee.load(ordering: .acquiring) == EINPROGRESS {
                    pending = true
                    break
                }
            }
            if !pending { break }
            if context.completions.wait(seen: seen, deadline: 0) == EINTR { return fail(EINTR) }
        }
        for i in 0..<Int(nent) {
            if let cb = list![i], cb.pointee.aio_lio_opcode != C.LIO_NOP, AIOCB.error(cb).pointee.load(ordering: .acquiring) != 0 {
                failed = true
            }
        }
    }
    if exhausted { return fail(EAGAIN) }
    if failed { return fail(EIO) }
    return 0
}
@_cdecl("lio_listio")
public func rtio_lio_listio(_ mode: Int32, _ list: UnsafePointer<UnsafeMutablePointer<aiocb>?>?, _ nent: Int32,
                            _ sevp: UnsafeMutablePointer<sigevent>?) -> Int32 { listioImpl(mode, list, nent, sevp) }
@_cdecl("lio_listio64")
public func rtio_lio_listio64(_ mode: Int32, _ list: UnsafePointer<UnsafeMutablePointer<aiocb>?>?, _ nent: Int32,
                              _ sevp: UnsafeMutablePointer<sigevent>?) -> Int32 { listioImpl(mode, list, nent, sevp) }

// MARK: aio_init

/// glibc's tuning call (struct aioinit: thread count, queue sizes). Accepted and
/// ignored: the engine's layout comes from RTIO_AIO_CONFIG.
@_cdecl("aio_init")
public func rtio_aio_init(_ init: UnsafeRawPointer?) {}
