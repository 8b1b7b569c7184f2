// C ABI of RealtimeIO: the functions declared in include/realtimeio.h.
//
// No Swift type or error crosses this boundary: engines are opaque pointers
// (an Unmanaged, retained IOEngine), failures are negative errno values plus,
// for rtio_engine_create, a message copied into the caller's buffer.
// The C structs are written field by field at the offsets the header pins
// with _Static_assert, never through a Swift struct whose layout could drift.
import RealtimeIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

// MARK: handle

@inline(__always)
private func withEngine<R>(_ handle: UnsafeMutableRawPointer, _ body: (IOEngine) -> R) -> R {
    Unmanaged<IOEngine>.fromOpaque(handle)._withUnsafeGuaranteedRef(body)
}

/// Copies `message` (truncated, NUL-terminated) into a caller's buffer.
private func copyMessage(_ message: String, to buffer: UnsafeMutablePointer<CChar>?, length: Int) {
    guard let buffer, length > 0 else { return }
    var utf8 = Array(message.utf8)
    if utf8.count > length - 1 {
        utf8.removeSubrange((length - 1)...)
        // Do not cut a UTF-8 sequence in half.
        while let last = utf8.last, last & 0xC0 == 0x80 { utf8.removeLast() }
        if let last = utf8.last, last >= 0xC0 { utf8.removeLast() }
    }
    utf8.withUnsafeBufferPointer { src in
        UnsafeMutableRawPointer(buffer).copyMemory(from: src.baseAddress!, byteCount: src.count)
    }
    buffer[utf8.count] = 0
}

/// The errno a C caller sees for an engine start failure.
func cErrno(_ error: EngineError) -> Int32 {
    switch error {
    case .configuration: return EINVAL
    case .insufficientPrivilege: return EPERM
    case .threadCreation(_, let e): return e.rawValue
    case .eventFD(let e): return e.rawValue
    case .workerStartTimeout: return ETIMEDOUT
    }
}

// MARK: create / shutdown / destroy

@_cdecl("rtio_engine_create")
public func rtio_engine_create(
    _ json: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
    _ errbuf: UnsafeMutablePointer<CChar>?, _ errlen: Int
) -> Int32 {
    out?.pointee = nil
    guard let json, let out else {
        copyMessage("rtio_engine_create: json_config and out must not be NULL", to: errbuf, length: errlen)
        return -EINVAL
    }
    let configuration: EngineConfiguration
    do { configuration = try EngineConfiguration(json: String(cString: json)) } catch {
        copyMessage(error.description, to: errbuf, length: errlen)
        return -EINVAL
    }
    let engine: IOEngine
    do { engine = try IOEngine(configuration: configuration) } catch {
        copyMessage(error.description, to: errbuf, length: errlen)
        return -cErrno(error)
    }
    copyMessage(engine.degradations.map(\.description).joined(separator: "\n"), to: errbuf, length: errlen)
    out.pointee = Unmanaged.passRetained(engine).toOpaque()
    return 0
}

@_cdecl("rtio_engine_shutdown")
public func rtio_engine_shutdown(_ handle: UnsafeMutableRawPointer?, _ mode: Int32) -> Int32 {
    guard let handle else { return -EINVAL }
    let m: ShutdownMode
    switch mode {
    case 0: m = .drain
    case 1: m = .cancel
    default: return -EINVAL
    }
    withEngine(handle) { $0.shutdown(m) }
    return 0
}

@_cdecl("rtio_engine_destroy")
public func rtio_engine_destroy(_ handle: UnsafeMutableRawPointer?) {
    guard let handle else { return }
    let engine = Unmanaged<IOEngine>.fromOpaque(handle)
    engine._withUnsafeGuaranteedRef { $0.shutdown(.drain) }
    engine.release()
}

// MARK: submit

@inline(__always)
private func submit(_ handle: UnsafeMutableRawPointer?, _ request: IORequest, _ tag: UInt64) -> Int32 {
    guard let handle else { return -EINVAL }
    return withEngine(handle) { engine in
        do throws(SubmitError) {
            try engine.submit(request, tag: tag)
            return 0
        } catch {
            return -error.errno.rawValue
        }
    }
}

@_cdecl("rtio_submit_read")
public func rtio_submit_read(
    _ handle: UnsafeMutableRawPointer?, _ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ len: Int,
    _ offset: Int64, _ tag: UInt64
) -> Int32 {
    guard len >= 0, buf != nil || len == 0 else { return -EINVAL }  // size_t > SSIZE_MAX arrives negative
    return submit(handle, .read(FileDescriptor(rawValue: fd), into: UnsafeMutableRawBufferPointer(start: buf, count: len), at: offset), tag)
}

@_cdecl("rtio_submit_write")
public func rtio_submit_write(
    _ handle: UnsafeMutableRawPointer?, _ fd: Int32, _ buf: UnsafeRawPointer?, _ len: Int,
    _ offset: Int64, _ tag: UInt64
) -> Int32 {
    guard len >= 0, buf != nil || len == 0 else { return -EINVAL }
    return submit(handle, .write(FileDescriptor(rawValue: fd), from: UnsafeRawBufferPointer(start: buf, count: len), at: offset), tag)
}

@_cdecl("rtio_submit_readv")
public func rtio_submit_readv(
    _ handle: UnsafeMutableRawPointer?, _ fd: Int32, _ iov: UnsafePointer<iovec>?, _ iovcnt: Int32,
    _ offset: Int64, _ tag: UInt64
) -> Int32 {
    guard iovcnt >= 0, iovcnt <= 1024, iov != nil || iovcnt == 0 else { return -EINVAL }
    return submit(handle, .readv(FileDescriptor(rawValue: fd), UnsafeBufferPointer(start: iov, count: Int(iovcnt)), at: offset), tag)
}

@_cdecl("rtio_submit_writev")
public func rtio_submit_writev(
    _ handle: UnsafeMutableRawPointer?, _ fd: Int32, _ iov: UnsafePointer<iovec>?, _ iovcnt: Int32,
    _ offset: Int64, _ tag: UInt64
) -> Int32 {
    guard iovcnt >= 0, iovcnt <= 1024, iov != nil || iovcnt == 0 else { return -EINVAL }
    return submit(handle, .writev(FileDescriptor(rawValue: fd), UnsafeBufferPointer(start: iov, count: Int(iovcnt)), at: offset), tag)
}

@_cdecl("rtio_submit_fsync")
public func rtio_submit_fsync(_ handle: UnsafeMutableRawPointer?, _ fd: Int32, _ tag: UInt64) -> Int32 {
    submit(handle, .fsync(FileDescriptor(rawValue: fd)), tag)
}

@_cdecl("rtio_submit_fdatasync")
public func rtio_submit_fdatasync(_ handle: UnsafeMutableRawPointer?, _ fd: Int32, _ tag: UInt64) -> Int32 {
    submit(handle, .fdatasync(FileDescriptor(rawValue: fd)), tag)
}

@_cdecl("rtio_submit_fallocate")
public func rtio_submit_fallocate(
    _ handle: UnsafeMutableRawPointer?, _ fd: Int32, _ mode: Int32, _ offset: Int64, _ len: Int64, _ tag: UInt64
) -> Int32 {
    let m: FallocateMode
    switch mode {
    case 0: m = .allocate
    case 0x01: m = .allocateKeepSize           // FALLOC_FL_KEEP_SIZE
    case 0x03: m = .punchHole                  // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
    case 0x10: m = .zeroRange                  // FALLOC_FL_ZERO_RANGE
    default: return -EINVAL
    }
    return submit(handle, .fallocate(FileDescriptor(rawValue: fd), m, at: offset, length: len), tag)
}

// MARK: handles and cancellation

@inline(__always)
private func submitReturningHandle(
    _ handle: UnsafeMutableRawPointer?, _ request: IORequest, _ tag: UInt64, _ out: UnsafeMutablePointer<UInt64>?
) -> Int32 {
    guard let handle, let out else { return -EINVAL }
    out.pointee = 0
    return withEngine(handle) { engine in
        do throws(SubmitError) {
            out.pointee = try engine.submit(request, tag: tag).rawValue
            return 0
        } catch {
            return -error.errno.rawValue
        }
    }
}

@_cdecl("rtio_submit_read_h")
public func rtio_submit_read_h(
    _ handle: UnsafeMutableRawPointer?, _ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ len: Int,
    _ offset: Int64, _ tag: UInt64, _ out: UnsafeMutablePointer<UInt64>?
) -> Int32 {
    out?.pointee = 0
    guard len >= 0, buf != nil || len == 0 else { return -EINVAL }
    return submitReturningHandle(handle, .read(FileDescriptor(rawValue: fd), into: UnsafeMutableRawBufferPointer(start: buf, count: len), at: offset), tag, out)
}

@_cdecl("rtio_submit_write_h")
public func rtio_submit_write_h(
    _ handle: UnsafeMutableRawPointer?, _ fd: Int32, _ buf: UnsafeRawPointer?, _ len: Int,
    _ offset: Int64, _ tag: UInt64, _ out: UnsafeMutablePointer<UInt64>?
) -> Int32 {
    out?.pointee = 0
    guard len >= 0, buf != nil || len == 0 else { return -EINVAL }
    return submitReturningHandle(handle, .write(FileDescriptor(rawValue: fd), from: UnsafeRawBufferPointer(start: buf, count: len), at: offset), tag, out)
}

@_cdecl("rtio_submit_readv_h")
public func rtio_submit_readv_h(
    _ handle: UnsafeMutableRawPointer?, _ fd: Int32, _ iov: UnsafePointer<iovec>?, _ iovcnt: Int32,
    _ offset: Int64, _ tag: UInt64, _ out: UnsafeMutablePointer<UInt64>?
) -> Int32 {
    out?.pointee = 0
    guard iovcnt >= 0, iovcnt <= 1024, iov != nil || iovcnt == 0 else { return -EINVAL }
    return submitReturningHandle(handle, .readv(FileDescriptor(rawValue: fd), UnsafeBufferPointer(start: iov, count: Int(iovcnt)), at: offset), tag, out)
}

@_cdecl("rtio_submit_writev_h")
public func rtio_submit_writev_h(
    _ handle: UnsafeMutableRawPointer?, _ fd: Int32, _ iov: UnsafePointer<iovec>?, _ iovcnt: Int32,
    _ offset: Int64, _ tag: UInt64, _ out: UnsafeMutablePointer<UInt64>?
) -> Int32 {
    out?.pointee = 0
    guard iovcnt >= 0, iovcnt <= 1024, iov != nil || iovcnt == 0 else { return -EINVAL }
    return submitReturningHandle(handle, .writev(FileDescriptor(rawValue: fd), UnsafeBufferPointer(start: iov, count: Int(iovcnt)), at: offset), tag, out)
}

@_cdecl("rtio_submit_fsync_h")
public func rtio_submit_fsync_h(_ handle: UnsafeMutableRawPointer?, _ fd: Int32, _ tag: UInt64, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    submitReturningHandle(handle, .fsync(FileDescriptor(rawValue: fd)), tag, out)
}

@_cdecl("rtio_submit_fdatasync_h")
public func rtio_submit_fdatasync_h(_ handle: UnsafeMutableRawPointer?, _ fd: Int32, _ tag: UInt64, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    submitReturningHandle(handle, .fdatasync(FileDescriptor(rawValue: fd)), tag, out)
}

@_cdecl("rtio_submit_fallocate_h")
public func rtio_submit_fallocate_h(
    _ handle: UnsafeMutableRawPointer?, _ fd: Int32, _ mode: Int32, _ offset: Int64, _ len: Int64, _ tag: UInt64,
    _ out: UnsafeMutablePointer<UInt64>?
) -> Int32 {
    out?.pointee = 0
    let m: FallocateMode
    switch mode {  // as rtio_submit_fallocate
    case 0: m = .allocate
    case 0x01: m = .allocateKeepSize
    case 0x03: m = .punchHole
    case 0x10: m = .zeroRange
    default: return -EINVAL
    }
    return submitReturningHandle(handle, .fallocate(FileDescriptor(rawValue: fd), m, at: offset, length: len), tag, out)
}

/// The engine and request handle of a call that takes both: -EINVAL for a
/// NULL engine, a zero handle or one this engine never issued.
private func withIssuedRequest(
    _ handle: UnsafeMutableRawPointer?, _ request: UInt64, _ body: (IOEngine, RequestHandle) -> Int32
) -> Int32 {
    guard let handle, let requestHandle = RequestHandle(rawValue: request) else { return -EINVAL }
    return withEngine(handle) { engine in
        engine.issued(requestHandle) ? body(engine, requestHandle) : -EINVAL
    }
}

/// rtio_cancel: RTIO_CANCELED 0, RTIO_NOTCANCELED 1, RTIO_ALLDONE 2 (the AIO_* values).
@_cdecl("rtio_cancel")
public func rtio_cancel(_ handle: UnsafeMutableRawPointer?, _ request: UInt64) -> Int32 {
    withIssuedRequest(handle, request) { engine, h in
        switch engine.cancel(h) { case .cancelled: 0; case .running: 1; case .alreadyDone: 2 }
    }
}

/// rtio_serve_here: RTIO_SERVED 0, RTIO_NOTSERVED 1 (running), RTIO_ALLDONE 2.
@_cdecl("rtio_serve_here")
public func rtio_serve_here(_ handle: UnsafeMutableRawPointer?, _ request: UInt64) -> Int32 {
    withIssuedRequest(handle, request) { engine, h in
        switch engine.serveHere(h) { case .served: 0; case .running: 1; case .alreadyDone: 2 }
    }
}

/// rtio_worker_rests: 1 while worker `index` sleeps in a timed rest, 0 if not, -EINVAL for a bad index.
@_cdecl("rtio_worker_rests")
public func rtio_worker_rests(_ handle: UnsafeMutableRawPointer?, _ index: UInt32) -> Int32 {
    guard let handle else { return -EINVAL }
    return withEngine(handle) { engine in
        guard Int(index) < engine.workerCount else { return -EINVAL }
        return engine.workerRests(Int(index)) ? 1 : 0
    }
}

// MARK: batch submit

/// struct rtio_request offsets, pinned by _Static_assert in realtimeio.h.
enum RequestLayout {
    static let opcode = 0, fd = 4, offset = 8, buf = 16, len = 24, tag = 32, mode = 40, reserved = 44
    static let size = 48
}

/// The request `p` (a struct rtio_request) describes, or the errno that refuses it.
@inline(__always)
private func request(at p: UnsafeRawPointer) -> Result<IOSubmission, SubmitErrnoBox> {
    typealias L = RequestLayout
    let opcode = p.loadUnaligned(fromByteOffset: L.opcode, as: UInt32.self)
    let fd = FileDescriptor(rawValue: p.loadUnaligned(fromByteOffset: L.fd, as: Int32.self))
    let offset = p.loadUnaligned(fromByteOffset: L.offset, as: Int64.self)
    let buf = p.loadUnaligned(fromByteOffset: L.buf, as: UnsafeMutableRawPointer?.self)
    let len = p.loadUnaligned(fromByteOffset: L.len, as: UInt64.self)
    let tag = p.loadUnaligned(fromByteOffset: L.tag, as: UInt64.self)
    let mode = p.loadUnaligned(fromByteOffset: L.mode, as: Int32.self)
    guard p.loadUnaligned(fromByteOffset: L.reserved, as: UInt32.self) == 0 else { return .failure(SubmitErrnoBox(EINVAL)) }
    func bytes() -> Int? { len <= UInt64(Int.max) && (buf != nil || len == 0) ? Int(len) : nil }
    func iovecs() -> UnsafeBufferPointer<iovec>? {
        guard len <= 1024, buf != nil || len == 0 else { return nil }
        return UnsafeBufferPointer(start: buf.map { UnsafePointer($0.assumingMemoryBound(to: iovec.self)) }, count: Int(len))
    }
    let r: IORequest
    switch opcode {
    case 0:
        guard let n = bytes() else { return .failure(SubmitErrnoBox(EINVAL)) }
        r = .read(fd, into: UnsafeMutableRawBufferPointer(start: buf, count: n), at: offset)
    case 1:
        guard let n = bytes() else { return .failure(SubmitErrnoBox(EINVAL)) }
        r = .write(fd, from: UnsafeRawBufferPointer(start: buf, count: n), at: offset)
    case 2, 3:
        guard let iov = iovecs() else { return .failure(SubmitErrnoBox(EINVAL)) }
        r = opcode == 2 ? .readv(fd, iov, at: offset) : .writev(fd, iov, at: offset)
    case 4: r = .fsync(fd)
    case 5: r = .fdatasync(fd)
    case 6:
        let m: FallocateMode
        switch mode {
        case 0: m = .allocate
        case 0x01: m = .allocateKeepSize
        case 0x03: m = .punchHole
        case 0x10: m = .zeroRange
        default: return .failure(SubmitErrnoBox(EINVAL))
        }
        guard len <= UInt64(Int64.max) else { return .failure(SubmitErrnoBox(EINVAL)) }
        r = .fallocate(fd, m, at: offset, length: Int64(len))
    default: return .failure(SubmitErrnoBox(EINVAL))
    }
    return .success(IOSubmission(r, tag: tag))
}

/// An errno as an Error, for `Result`.
struct SubmitErrnoBox: Error { let value: Int32; init(_ value: Int32) { self.value = value } }

@_cdecl("rtio_submit_batch")
public func rtio_submit_batch(
    _ handle: UnsafeMutableRawPointer?, _ requests: UnsafeRawPointer?, _ count: UInt32,
    _ failedIndex: UnsafeMutablePointer<UInt32>?
) -> Int32 {
    submitBatch(handle, requests, count, handles: nil, failedIndex)
}

@_cdecl("rtio_submit_batch_h")
public func rtio_submit_batch_h(
    _ handle: UnsafeMutableRawPointer?, _ requests: UnsafeRawPointer?, _ count: UInt32,
    _ handles: UnsafeMutablePointer<UInt64>?, _ failedIndex: UnsafeMutablePointer<UInt32>?
) -> Int32 {
    guard handles != nil || count == 0 else {
        failedIndex?.pointee = count
        return -EINVAL
    }
    return submitBatch(handle, requests, count, handles: handles, failedIndex)
}

/// Both batch entry points; `handles` (n entries) receives the rtio_handle_t
/// of each request on success, 0s otherwise.
private func submitBatch(
    _ handle: UnsafeMutableRawPointer?, _ requests: UnsafeRawPointer?, _ count: UInt32,
    handles: UnsafeMutablePointer<UInt64>?, _ failedIndex: UnsafeMutablePointer<UInt32>?
) -> Int32 {
    if let handles { handles.update(repeating: 0, count: Int(count)) }
    failedIndex?.pointee = count
    guard let handle, requests != nil || count == 0 else { return -EINVAL }
    guard count > 0, let requests else { return 0 }
    let n = Int(count)
    // The C-only checks first (opcodes, modes, lengths), naming the request.
    var i = 0
    while i < n {
        if case .failure(let e) = request(at: requests + i * RequestLayout.size) {
            failedIndex?.pointee = UInt32(i)
            return -e.value
        }
        i += 1
    }
    return withEngine(handle) { engine in
        do throws(BatchSubmitError) {
            // The caller's array holds 8-byte handles; the engine writes RequestHandles
            // (two 32-bit words) into the same cells, then each becomes its rtio_handle_t.
            let out = handles.map { UnsafeMutableRawPointer($0).bindMemory(to: RequestHandle.self, capacity: n) }
            defer { if let handles { _ = UnsafeMutableRawPointer(handles).bindMemory(to: UInt64.self, capacity: n) } }
            try engine.submitBatch(count: n, placement: .leastLoaded, handles: out) { k in
                // Checked above; only an array changed during the call (the caller's
                // bug) fails here: that entry completes with -EBADF instead of crashing.
                let p = requests + k * RequestLayout.size
                guard case .success(let s) = request(at: p) else {
                    return IOSubmission(.fsync(FileDescriptor(rawValue: -1)), tag: p.loadUnaligned(fromByteOffset: RequestLayout.tag, as: UInt64.self))
                }
                return s
            }
            if let out, let handles {
                var k = 0
                while k < n {
                    let raw = out[k].rawValue
                    UnsafeMutableRawPointer(handles).storeBytes(of: raw, toByteOffset: k * 8, as: UInt64.self)
                    k += 1
                }
            }
            return 0
        } catch {
            if let handles { UnsafeMutableRawPointer(handles).initializeMemory(as: UInt64.self, repeating: 0, count: n) }
            if case .invalidRequest(let index, _) = error { failedIndex?.pointee = UInt32(index) }
            return -error.errno.rawValue
        }
    }
}

// MARK: completions

@_cdecl("rtio_completion_fd")
public func rtio_completion_fd(_ handle: UnsafeMutableRawPointer?) -> Int32 {
    guard let handle else { return -EINVAL }
    return withEngine(handle) { $0.isShutDown ? -ESHUTDOWN : $0.completionFD.rawValue }
}

/// struct rtio_completion: tag @0, result @8, worker @16, reserved @20; 24 bytes.
@_cdecl("rtio_reap")
public func rtio_reap(_ handle: UnsafeMutableRawPointer?, _ out: UnsafeMutableRawPointer?, _ max: UInt32) -> Int32 {
    guard let handle, out != nil || max == 0 else { return -EINVAL }
    guard max > 0, let out else { return 0 }
    let limit = Int(Swift.min(max, UInt32(Int32.max)))
    return withEngine(handle) { engine in
        var n = 0
        engine.reap(maximum: limit) { c in
            let p = out + n * 24
            p.storeBytes(of: c.tag, toByteOffset: 0, as: UInt64.self)
            p.storeBytes(of: Int64(c.result), toByteOffset: 8, as: Int64.self)
            p.storeBytes(of: c.worker.map { UInt32(truncatingIfNeeded: $0) } ?? 0xFFFF_FFFF, toByteOffset: 16, as: UInt32.self)  // RTIO_ON_DEMAND_WORKER
            p.storeBytes(of: 0, toByteOffset: 20, as: UInt32.self)
            n += 1
        }
        return Int32(n)
    }
}

// MARK: workers

@_cdecl("rtio_worker_count")
public func rtio_worker_count(_ handle: UnsafeMutableRawPointer?) -> Int32 {
    guard let handle else { return -EINVAL }
    return withEngine(handle) { Int32($0.workerCount) }
}

/// struct rtio_worker_info offsets, pinned by _Static_assert in realtimeio.h.
enum WorkerInfoLayout {
    static let index = 0, tid = 4, name = 8, group = 24, cpu = 88, policy = 92, priority = 96, nice = 100
    static let submitted = 104, completed = 112, errors = 120, cancelled = 128, queueDepth = 136
    static let maxQueueDepth = 144, parks = 152, busyNanoseconds = 160, minorFaults = 168, majorFaults = 176
    static let size = 184
}

@_cdecl("rtio_worker_info")
public func rtio_worker_info(_ handle: UnsafeMutableRawPointer?, _ index: UInt32, _ out: UnsafeMutableRawPointer?) -> Int32 {
    guard let handle, let out else { return -EINVAL }
    return withEngine(handle) { engine in
        guard Int(index) < engine.workerCount else { return -EINVAL }
        let s = engine.workerSnapshots()[Int(index)]
        typealias L = WorkerInfoLayout
        out.initializeMemory(as: UInt8.self, repeating: 0, count: L.size)
        func string(_ text: String, at offset: Int, capacity: Int) {
            let bytes = Array(text.utf8.prefix(capacity - 1))
            for (i, b) in bytes.enumerated() { out.storeBytes(of: b, toByteOffset: offset + i, as: UInt8.self) }
        }
        func u64(_ v: Int, _ offset: Int) { out.storeBytes(of: UInt64(clamping: v), toByteOffset: offset, as: UInt64.self) }
        out.storeBytes(of: UInt32(s.index), toByteOffset: L.index, as: UInt32.self)
        out.storeBytes(of: s.tid, toByteOffset: L.tid, as: Int32.self)
        string(s.name, at: L.name, capacity: 16)
        string(s.group, at: L.group, capacity: 64)
        out.storeBytes(of: Int32(s.lastCPU ?? -1), toByteOffset: L.cpu, as: Int32.self)
        var policy: Int32 = -1, priority: Int32 = 0, nice: Int32 = 0
        if let applied = s.appliedScheduling {
            policy = applied.kernelPolicy
            priority = Int32(applied.realtimePriority)
            if case .other(let n) = applied { nice = Int32(n) }
        }
        out.storeBytes(of: policy, toByteOffset: L.policy, as: Int32.self)
        out.storeBytes(of: priority, toByteOffset: L.priority, as: Int32.self)
        out.storeBytes(of: nice, toByteOffset: L.nice, as: Int32.self)
        u64(s.submitted, L.submitted)
        u64(s.completed, L.completed)
        u64(s.errors, L.errors)
        u64(s.cancelled, L.cancelled)
        u64(s.queueDepth, L.queueDepth)
        u64(s.maxQueueDepth, L.maxQueueDepth)
        u64(s.parks, L.parks)
        out.storeBytes(of: s.busyNanoseconds, toByteOffset: L.busyNanoseconds, as: UInt64.self)
        out.storeBytes(of: Int64(s.minorFaults ?? -1), toByteOffset: L.minorFaults, as: Int64.self)
        out.storeBytes(of: Int64(s.majorFaults ?? -1), toByteOffset: L.majorFaults, as: Int64.self)
        return 0
    }
}
