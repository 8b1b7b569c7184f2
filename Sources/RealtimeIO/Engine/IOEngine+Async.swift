import SystemPackage

/// async/await convenience. Each call allocates a continuation box and the
/// worker resumes the task directly (no completion ring, no reap needed);
/// use ``IOEngine/submit(_:tag:placement:)`` and ``IOEngine/reap(maximum:rearm:_:)``
/// where allocation matters.
extension IOEngine {
    /// Runs `request` and returns its result (bytes, or the custom call's value).
    /// - Throws: ``SubmitError`` if it was not accepted, or the `Errno` it failed with.
    public func perform(_ request: IORequest, placement: Placement = .leastLoaded) async throws -> Int {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Int, any Error>) in
            let box = Unmanaged.passRetained(ContinuationBox(continuation)).toOpaque()
            do {
                try submit(request, tag: 0, placement: placement, continuation: box)
            } catch {
                Unmanaged<ContinuationBox>.fromOpaque(box).release()
                continuation.resume(throwing: error)
            }
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
