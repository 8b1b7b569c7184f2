// What a worker runs for aio_read/aio_write: one positioned transfer, or a
// stream transfer when the descriptor cannot seek.
import RealtimeIO

#if canImport(Glibc)
import Glibc
#endif

/// The engine's `.custom` call behind every `aio_read` and `aio_write`; its
/// context is the slot's ``SlotRequest``.
///
/// As glibc does: one `pread`/`pwrite` (EINTR retried); if it fails with
/// `ESPIPE` — a pipe, FIFO, socket or terminal — one `read`/`write` instead.
/// The descriptor is classified per request by the call that does the I/O,
/// so a seekable descriptor costs no extra syscall, and nothing is cached
/// that a closed and reused descriptor number could make wrong. A stream
/// costs one failed `pread` per request.
///
/// Errors are what the kernel says at execution (`EBADF` for a closed
/// descriptor or one not open for that direction, `EFAULT` for a NULL buffer):
/// they reach the caller through `aio_error`, as with glibc.
enum SlotOperation {
    static let run: CustomBlockingCall = { context in
        let r = context.unsafelyUnwrapped.assumingMemoryBound(to: SlotRequest.self)
        let fd = r.pointee.fd, buffer = r.pointee.buffer, count = r.pointee.count, offset = off_t(r.pointee.offset)
        let reading = r.pointee.opcode == C.LIO_READ
        var n: Int
        repeat {
            n = reading ? pread(fd, buffer, count, offset) : pwrite(fd, buffer, count, offset)
        } while n < 0 && errno == EINTR
        var stream = false
        if n < 0 && errno == ESPIPE {
            stream = true
            repeat {
                n = reading ? read(fd, buffer, count) : write(fd, buffer, count)
            } while n < 0 && errno == EINTR
        }
        let result = n >= 0 ? n : -Int(errno)
        if let seekable = r.pointee.seekable, result != -Int(EBADF) { seekable.record(fd, seekable: !stream) }
        return result
    }
}
