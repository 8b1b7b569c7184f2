// One bit per descriptor number: what a worker last learnt about it.
import RealtimeIO
import Synchronization

/// One bit per descriptor below ``limit``, written by the thread that ran the
/// last read or write on it and read by submitters and workers.
///
/// The drop-in keeps two:
/// - **seekable** (``DropInSettings/Ordering/spreadReads`` only): set when the
///   last `pread`/`pwrite` did not fail with `ESPIPE`. A read spreads across
///   workers only when its descriptor is known seekable, so a stream's reads
///   stay ordered from the first one on (an unknown descriptor counts as a
///   stream).
/// - **streams** (preallocated workers only): set when `pread`/`pwrite` failed
///   with `ESPIPE`, cleared when a positioned transfer succeeded. A worker that
///   finds the bit set hands the request to the stream threads at once, without
///   the failing `pread` (see ``SlotOperation``).
///
/// ## Ownership
/// Written with relaxed read-modify-writes, only when the bit changes (a steady
/// descriptor costs one relaxed load per request); read relaxed. A stale bit
/// costs order or speed for the request that reads it, never data: a
/// descriptor closed and reopened as a file while its stream bit is set is
/// served once by a stream thread, which clears the bit.
struct DescriptorBits {
    /// Descriptors at or above this are never recorded (``contains(_:)`` is false).
    static let limit: Int32 = 1 << 16
    let words: UnsafeMutablePointer<Atomic<UInt64>>

    /// The bitmap's storage (kept by the context for the life of the process).
    static func makeStorage() -> (CacheAlignedStorage, DescriptorBits) {
        let count = Int(limit) / 64
        let storage = CacheAlignedStorage(byteCount: count * MemoryLayout<Atomic<UInt64>>.stride)
        let words = storage.initialize(count: count, at: 0) { _ in Atomic<UInt64>(0) }
        return (storage, DescriptorBits(words: words))
    }

    /// ``makeStorage()`` when `wanted`, else nothing (the bitmap is not kept).
    static func makeStorage(if wanted: Bool) -> (CacheAlignedStorage?, DescriptorBits?) {
        guard wanted else { return (nil, nil) }
        let (storage, bits) = makeStorage()
        return (storage, bits)
    }

    @inline(__always)
    func contains(_ fd: Int32) -> Bool {
        guard fd >= 0 && fd < Self.limit else { return false }
        return words[Int(fd) >> 6].load(ordering: .relaxed) & (1 << UInt64(fd & 63)) != 0
    }

    @inline(__always)
    func record(_ fd: Int32, _ value: Bool) {
        guard fd >= 0 && fd < Self.limit else { return }
        let bit = UInt64(1) << UInt64(fd & 63)
        let word = words + (Int(fd) >> 6)
        let now = word.pointee.load(ordering: .relaxed) & bit != 0
        guard now != value else { return }
        if value { word.pointee.bitwiseOr(bit, ordering: .relaxed) } else { word.pointee.bitwiseAnd(~bit, ordering: .relaxed) }
    }
}
