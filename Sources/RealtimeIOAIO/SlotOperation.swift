// What a worker runs for aio_read/aio_write: one positioned transfer, or a
// stream transfer when the descriptor cannot seek.
import RealtimeIO

#if canImport(Glibc)
import Glibc
#endif

/// The engine's `.custom` calls behind every `aio_read` and `aio_write`; their
/// context is the slot's ``SlotRequest``.
///
/// As glibc does: one `pread`/`pwrite` (EINTR retried); if it fails with
/// `ESPIPE` — a pipe, FIFO, socket or terminal — one `read`/`write` instead.
/// The descriptor is classified per request by the call that does the I/O,
/// so a seekable descriptor costs no extra syscall.
///
/// A stream transfer may block for ever (a read nobody writes for), so it is
/// never run on a preallocated worker: ``forwardingStreams`` (the workers'
/// call) returns ``forwarded`` instead, and the drop-in hands the request to
/// its stream threads, where ``run`` blocks as long as it must. A preallocated
/// worker is then never held by a stream, and a read blocked on one end of a
/// pipe cannot hold back the write to the other end queued on the same worker.
///
/// Errors are what the kernel says at execution (`EBADF` for a closed
/// descriptor or one not open for that direction, `EFAULT` for a NULL buffer):
/// they reach the caller through `aio_error`, as with glibc.
enum SlotOperation {
    /// The result ``forwardingStreams`` gives for a stream: not a completion,
    /// the request goes on to the stream threads (``AIOContext/complete(_:)``).
    /// Positive, so the worker's counters count a hand-over as done, not as an
    /// error; no transfer returns `Int.max` bytes.
    static let forwarded = Int.max

    /// The preallocated workers' call: a positioned transfer, or ``forwarded``
    /// for a descriptor that cannot seek (known from its stream bit, or
    /// learnt from `ESPIPE`; no data moved either way).
    static let forwardingStreams: CustomBlockingCall = { context in
        let r = context.unsafelyUnwrapped.assumingMemoryBound(to: SlotRequest.self)
        let fd = r.pointee.fd
        if let streams = r.pointee.streams, streams.contains(fd) { return forwarded }
        let n = positioned(r)
        if n == -Int(ESPIPE) {
            r.pointee.streams?.record(fd, true)
            r.pointee.seekable?.record(fd, false)
            return forwarded
        }
        if let seekable = r.pointee.seekable, n != -Int(EBADF) { seekable.record(fd, true) }
        return n
    }

    /// The stream threads' (and on-demand workers') call: a positioned
    /// transfer, or one `read`/`write` that blocks until the stream moves.
    static let run: CustomBlockingCall = { context in
        let r = context.unsafelyUnwrapped.assumingMemoryBound(to: SlotRequest.self)
        let fd = r.pointee.fd, buffer = r.pointee.buffer, count = r.pointee.count
        let reading = r.pointee.opcode == C.LIO_READ
        var n = positioned(r)
        let stream = n == -Int(ESPIPE)
        if stream {
            repeat {
                n = reading ? read(fd, buffer, count) : write(fd, buffer, count)
            } while n < 0 && errno == EINTR
            if n < 0 { n = -Int(errno) }
        }
        if n != -Int(EBADF) {
            r.pointee.streams?.record(fd, stream)
            r.pointee.seekable?.record(fd, !stream)
        }
        return n
    }

    /// One `pread`/`pwrite` (EINTR retried): bytes or -errno.
    @inline(__always)
    private static func positioned(_ r: UnsafeMutablePointer<SlotRequest>) -> Int {
        let fd = r.pointee.fd, buffer = r.pointee.buffer, count = r.pointee.count, offset = off_t(r.pointee.offset)
        let reading = r.pointee.opcode == C.LIO_READ
        var n: Int
        repeat {
            n = reading ? pread(fd, buffer, count, offset) : pwrite(fd, buffer, count, offset)
        } while n < 0 && errno == EINTR
        return n >= 0 ? n : -Int(errno)
    }
}
