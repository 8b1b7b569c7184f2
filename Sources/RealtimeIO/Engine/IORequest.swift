import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// One operation to run on a worker. Every case is a plain value: building
/// and submitting one allocates nothing.
///
/// Buffers and caller-owned iovec arrays must stay valid until the request's
/// completion is reaped. (`@unchecked Sendable`: the pointers are the caller's
/// promise, exactly as with pread(2).)
public enum IORequest: @unchecked Sendable {
    /// pread: up to `buffer.count` bytes at `offset`; continues after short reads until done or EOF.
    case read(FileDescriptor, into: UnsafeMutableRawBufferPointer, at: Int64)
    /// pwrite: all of `buffer` at `offset`; continues after short writes.
    case write(FileDescriptor, from: UnsafeRawBufferPointer, at: Int64)
    /// preadv. Up to four iovecs are copied into
    /// the request (the array may be temporary); more are read from the caller's array.
    case readv(FileDescriptor, UnsafeBufferPointer<iovec>, at: Int64)
    /// pwritev; iovecs as for `readv`.
    case writev(FileDescriptor, UnsafeBufferPointer<iovec>, at: Int64)
    /// fsync: file data and metadata to stable storage.
    case fsync(FileDescriptor)
    /// fdatasync: file data (and the metadata needed to read it) to stable storage.
    case fdatasync(FileDescriptor)
    /// fallocate with ``FallocateMode`` at `offset` for `length` bytes.
    case fallocate(FileDescriptor, FallocateMode, at: Int64, length: Int64)
    /// A blocking call of the caller's: `function(context)` on a worker; its return value is the result.
    case custom(CustomBlockingCall, context: UnsafeMutableRawPointer?)
}


/// fallocate(2) modes.
public enum FallocateMode: Sendable, Equatable {
    /// Allocate blocks (mode 0); extends the file size.
    case allocate
    /// Allocate without changing the file size (FALLOC_FL_KEEP_SIZE).
    case allocateKeepSize
    /// Discard: deallocate the range (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE).
    case punchHole
    /// Zero the range (FALLOC_FL_ZERO_RANGE).
    case zeroRange

    var flags: Int32 {
        switch self {
        case .allocate: return 0
        case .allocateKeepSize: return 0x01
        case .punchHole: return 0x02 | 0x01
        case .zeroRange: return 0x10
        }
    }
}
