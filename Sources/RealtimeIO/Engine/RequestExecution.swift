import CRealtimeIOShims

#if canImport(Glibc)
import Glibc
#endif

/// Runs one request record's operation on the calling (worker) thread.
///
/// Short transfers continue until the request is done, EOF, or an error;
/// EINTR is retried. The result is bytes (≥ 0) or `-errno`; if an error
/// follows a partial transfer, the bytes already transferred are reported.
package enum RequestExecution {
    @inline(__always)
    package static func run(_ r: UnsafeMutablePointer<RequestRecord>) -> Int {
        switch r.pointee.opcode {
        case .read:
            return transfer(fd: r.pointee.fd, buffer: r.pointee.buffer, length: r.pointee.length, offset: r.pointee.offset, write: false)
        case .write:
            return transfer(fd: r.pointee.fd, buffer: r.pointee.buffer, length: r.pointee.length, offset: r.pointee.offset, write: true)
        case .readv, .writev:
            let write = r.pointee.opcode == .writev
            if r.pointee.flags & RequestFlags.inlineIOVecs != 0 {
                return withUnsafeMutablePointer(to: &r.pointee.inlineIOVecs) { tuple in
                    tuple.withMemoryRebound(to: iovec.self, capacity: RequestRecord.inlineIOVecCapacity) {
                        vectored(fd: r.pointee.fd, iov: $0, count: r.pointee.length, offset: r.pointee.offset, write: write)
                    }
                }
            }
            return vectored(fd: r.pointee.fd, iov: r.pointee.buffer!.assumingMemoryBound(to: iovec.self),
                            count: r.pointee.length, offset: r.pointee.offset, write: write)
        case .fsync:
            return retrying { fsync(r.pointee.fd) }
        case .fdatasync:
            return retrying { fdatasync(r.pointee.fd) }
        case .fallocate:
            while true {
                let rc = rtio_fallocate(r.pointee.fd, r.pointee.mode, r.pointee.offset, Int64(r.pointee.length))
                if rc != -EINTR { return Int(rc) }
            }
        case .custom:
            return r.pointee.custom!(r.pointee.buffer)
        }
    }

    /// The result of a request its worker's io_uring completed with
    /// `kernelResult`, finished as ``run(_:)`` would: a short transfer goes on
    /// with blocking calls until done, EOF or an error. Errors are the
    /// kernel's; `EINTR` — what a request already running on an io-wq thread
    /// gets from the worker's cancellation at shutdown — reads `ECANCELED`.
    @inline(__always)
    package static func complete(_ r: UnsafeMutablePointer<RequestRecord>, kernelResult: Int) -> Int {
        if kernelResult == -Int(EINTR) { return -Int(ECANCELED) }
        guard kernelResult > 0 else { return kernelResult }
        switch r.pointee.opcode {
        case .read, .write:
            let done = kernelResult
            guard done < r.pointee.length else { return done }
            let more = transfer(fd: r.pointee.fd, buffer: r.pointee.buffer! + done, length: r.pointee.length - done,
                                offset: r.pointee.offset + Int64(done), write: r.pointee.opcode == .write)
            return more < 0 ? done : done + more
        case .readv, .writev:
            let write = r.pointee.opcode == .writev
            if r.pointee.flags & RequestFlags.inlineIOVecs != 0 {
                return withUnsafeMutablePointer(to: &r.pointee.inlineIOVecs) { tuple in
                    tuple.withMemoryRebound(to: iovec.self, capacity: RequestRecord.inlineIOVecCapacity) {
                        continueVectored(fd: r.pointee.fd, iov: $0, count: r.pointee.length, offset: r.pointee.offset,
                                         write: write, done: kernelResult)
                    }
                }
            }
            return continueVectored(fd: r.pointee.fd, iov: r.pointee.buffer!.assumingMemoryBound(to: iovec.self),
                                    count: r.pointee.length, offset: r.pointee.offset, write: write, done: kernelResult)
        default:
            return kernelResult
        }
    }

    @inline(__always)
    static func retrying(_ call: () -> Int32) -> Int {
        while true {
            if call() == 0 { return 0 }
            if errno != EINTR { return -Int(errno) }
        }
    }

    @inline(__always)
    static func transfer(fd: Int32, buffer: UnsafeMutableRawPointer?, length: Int, offset: Int64, write: Bool) -> Int {
        var done = 0
        while done < length {
            let n = write
                ? pwrite(fd, buffer! + done, length - done, off_t(offset + Int64(done)))
                : pread(fd, buffer! + done, length - done, off_t(offset + Int64(done)))
            if n > 0 {
                done += n
            } else if n == 0 {
                break  // EOF (read) or a device that accepts nothing more (write)
            } else if errno != EINTR {
                return done > 0 ? done : -Int(errno)
            }
        }
        return done
    }

    /// preadv/pwritev over `count` iovecs; after a short transfer the rest goes
    /// iovec by iovec (the caller's array is never modified).
    static func vectored(fd: Int32, iov: UnsafePointer<iovec>, count: Int, offset: Int64, write: Bool) -> Int {
        var done = 0
        while true {
            let n = write
                ? pwritev(fd, iov, Int32(count), off_t(offset))
                : preadv(fd, iov, Int32(count), off_t(offset))
            if n >= 0 { done = n; break }
            if errno != EINTR { return -Int(errno) }
        }
        return continueVectored(fd: fd, iov: iov, count: count, offset: offset, write: write, done: done)
    }

    /// After a first vectored transfer of `done` bytes: the rest, iovec by
    /// iovec, if it was short (and not EOF).
    static func continueVectored(fd: Int32, iov: UnsafePointer<iovec>, count: Int, offset: Int64, write: Bool, done first: Int) -> Int {
        var wanted = 0
        for i in 0..<count { wanted += iov[i].iov_len }
        var done = first
        if done >= wanted || done == 0 { return done }
        // Short: continue from the iovec where it stopped.
        var skip = done
        for i in 0..<count {
            let length = iov[i].iov_len
            if skip >= length { skip -= length; continue }
            let base = iov[i].iov_base! + skip
            let n = transfer(fd: fd, buffer: base, length: length - skip, offset: offset + Int64(done), write: write)
            if n < 0 { return done }
            done += n
            if n < length - skip { break }  // EOF
            skip = 0
        }
        return done
    }
}
