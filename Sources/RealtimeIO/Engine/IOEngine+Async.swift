import SystemPackage

/// async/await convenience. Each call allocates a continuation box and the
/// worker resumes the task directly (no completion ring, no reap needed);
/// use ``IOEngine/submit(_:tag:placement:)`` and ``IOEngine/reap(maximum:rearm:_:)``
/// where allocation matters.
extension IOEngine {
    /// Runs `request` and returns its result (bytes, or the custom call's value).
    ///
    /// Honours `Task` cancellation: cancelling the awaiting task cancels the
    /// request with ``cancel(_:)``. If it had not started, it never runs and
    /// this throws `CancellationError` at once — also while the worker it was
    /// queued on is stuck in a blocking call; if it is running, it completes
    /// normally and this returns (or throws) its result. A task cancelled
    /// before the call throws `CancellationError` without submitting.
    ///
    /// The code after `await` runs on the task's executor, never on the worker
    /// thread that completed the request: resuming a continuation only
    /// enqueues the task there (see ``ContinuationBox``).
    /// - Throws: `CancellationError`; ``SubmitError`` if it was not accepted;
    ///   or the `Errno` it failed with (`ECANCELED` under ``ShutdownMode/cancel``).
    public func perform(_ request: IORequest, placement: Placement = .leastLoaded) async throws -> Int {
        try Task.checkCancellation()
        let box = ContinuationBox()
        do {
            return try await withTaskCancellationHandler {
                try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Int, any Error>) in
                    box.continuation = continuation
                    let raw = Unmanaged.passRetained(box).toOpaque()
                    do {
                        let handle = try submit(request, tag: 0, placement: placement, continuation: raw)
                        // The request may have completed already: cancel then reports alreadyDone.
                        if !box.publish(handle) { _ = cancel(handle) }
                    } catch {
                        Unmanaged<ContinuationBox>.fromOpaque(raw).release()
                        continuation.resume(throwing: error)
                    }
                }
            } onCancel: {
                if let handle = box.requestCancel() { _ = cancel(handle) }
            }
        } catch let error as Errno where error == .canceled && Task.isCancelled {
            throw CancellationError()
        }
    }

    /// pread into `buffer` at `offset`; returns bytes read (fewer only at EOF).
    public func read(_ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) async throws -> Int {
        try await perform(.read(fd, into: buffer, at: offset))
    }

    /// pwrite all of `buffer` at `offset`; returns bytes written.
    public func write(_ fd: FileDescriptor, from buffer: UnsafeRawBufferPointer, at offset: Int64) async throws -> Int {
        try await perform(.write(fd, from: buffer, at: offset))
    }

    /// fsync `fd` on a worker.
    public func fsync(_ fd: FileDescriptor) async throws {
        _ = try await perform(.fsync(fd))
    }

    /// fdatasync `fd` on a worker.
    public func fdatasync(_ fd: FileDescriptor) async throws {
        _ = try await perform(.fdatasync(fd))
    }
}
