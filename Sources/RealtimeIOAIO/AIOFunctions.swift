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

private func fsyncImpl(_ op: Int32, _ cb: UnsafeMutablePointer<aiocb>?) -> Int32 {
    guard op == O_SYNC || op == O_DSYNC else { return fail(EINVAL) }
    return enqueue(cb, opcode: -1, fsyncData: op == O_DSYNC)
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

/// The result once: a second call, or a call before completion, fails with EINVAL.
private func returnImpl(_ cb: UnsafeMutablePointer<aiocb>?) -> Int {
    guard let cb else { return Int(fail(EINVAL)) }
    guard AIOCB.error(cb).pointee.load(ordering: .acquiring) != EINPROGRESS,
          AIOCB.stateWord(cb).pointee.compareExchange(
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

private func suspendImpl(_ list: UnsafePointer<UnsafePointer<aiocb>?>?, _ nent: Int32, _ timeout: UnsafePointer<timespec>?) -> Int32 {
    guard nent >= 0, list != nil || nent == 0 else { return fail(EINVAL) }
    var deadline: UInt64 = 0
    if let timeout {
        guard timeout.pointee.tv_sec >= 0, timeout.pointee.tv_nsec >= 0, timeout.pointee.tv_nsec < 1_000_000_000 else { return fail(EINVAL) }
        let ns = UInt64(timeout.pointee.tv_sec).multipliedReportingOverflow(by: 1_000_000_000)
        deadline = ns.overflow ? UInt64.max : rtio_monotonic_ns() &+ ns.partialValue &+ UInt64(timeout.pointee.tv_nsec)
        if deadline == 0 { deadline = 1 }
    }
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

/// Requests already handed to a worker cannot be withdrawn: in-flight ones
/// report C.AIO_NOTCANCELED (they complete normally), finished ones C.AIO_ALLDONE.
private func cancelImpl(_ fd: Int32, _ cb: UnsafeMutablePointer<aiocb>?) -> Int32 {
    guard fcntl(fd, F_GETFL) >= 0 else { return fail(EBADF) }
    if let cb {
        guard cb.pointee.aio_fildes == fd else { return fail(EINVAL) }
        return AIOCB.error(cb).pointee.load(ordering: .acquiring) == EINPROGRESS ? C.AIO_NOTCANCELED : C.AIO_ALLDONE
    }
    guard let context = ProcessContext.existing() else { return C.AIO_ALLDONE }
    return context.inFlight.contains(fd: fd) ? C.AIO_NOTCANCELED : C.AIO_ALLDONE
}
@_cdecl("aio_cancel")
public func rtio_aio_cancel(_ fd: Int32, _ cb: UnsafeMutablePointer<aiocb>?) -> Int32 { cancelImpl(fd, cb) }
@_cdecl("aio_cancel64")
public func rtio_aio_cancel64(_ fd: Int32, _ cb: UnsafeMutablePointer<aiocb>?) -> Int32 { cancelImpl(fd, cb) }

// MARK: lio_listio

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
    let members = (0..<Int(nent)).reduce(0) { n, i in
        guard let cb = list![i], cb.pointee.aio_lio_opcode == C.LIO_READ || cb.pointee.aio_lio_opcode == C.LIO_WRITE else { return n }
        return n + 1
    }
    var group: Int32 = -1
    if notification.notify != C.SIGEV_NONE {
        guard let g = context.listIOGroups.claim(notification, members: members) else { return fail(EAGAIN) }
        group = Int32(g)
    }
    var failures = 0
    for i in 0..<Int(nent) {
        guard let cb = list![i] else { continue }
        let op = cb.pointee.aio_lio_opcode
        guard op == C.LIO_READ || op == C.LIO_WRITE else { continue }  // C.LIO_NOP and unknown opcodes: skipped
        let e = context.submit(cb, opcode: op, group: group)
        if e != 0 {
            failures += 1
            // The failed request reports its error through aio_error/aio_return.
            cb.pointee.__return_value = -1
            AIOCB.stateWord(cb).pointee.store(AIOState.completed.rawValue, ordering: .relaxed)
            AIOCB.error(cb).pointee.store(e, ordering: .releasing)
            if group >= 0 { context.finishGroupMember(Int(group)) }
        }
    }
    if group >= 0 { context.finishGroupMember(Int(group)) }  // the submitter's reference
    if mode == C.LIO_WAIT {
        while true {
            let seen = context.completions.current
            var pending = false
            for i in 0..<Int(nent) {
                if let cb = list![i], cb.pointee.aio_lio_opcode == C.LIO_READ || cb.pointee.aio_lio_opcode == C.LIO_WRITE,
                   AIOCB.error(cb).pointee.load(ordering: .acquiring) == EINPROGRESS {
                    pending = true
                    break
                }
            }
            if !pending { break }
            if context.completions.wait(seen: seen, deadline: 0) == EINTR { return fail(EINTR) }
        }
    }
    if failures > 0 { return fail(mode == C.LIO_WAIT ? EIO : (failures == members ? EAGAIN : EIO)) }
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
