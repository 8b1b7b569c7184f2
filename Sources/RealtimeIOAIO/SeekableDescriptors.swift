// Spread mode: which descriptors a worker last found seekable.
import RealtimeIO
import Synchronization

/// One bit per descriptor below ``limit``: set when the last read or write a
/// worker ran on it was positioned (`pread`/`pwrite` did not fail with
/// `ESPIPE`), cleared when it was a stream.
///
/// Only the `spreadReads` ordering (``DropInSettings/Ordering``) keeps it: a
/// read spreads across workers only when its descriptor is known seekable, so
/// a pipe's or socket's reads stay on the descriptor's worker, in submission
/// order, from the first one on (an unknown descriptor is treated as a stream).
///
/// ## Ownership
/// Written by workers (relaxed read-modify-write, only when the bit changes, so
/// a steady descriptor costs one relaxed load per request); read by submitters
/// (relaxed). A stale bit costs order or throughput for the one request that
/// reads it, never data: a descriptor number closed and reopened as a stream
/// while its bit is still set may have the reads submitted before the first
/// one finished run concurrently (see README "what still differs").
struct SeekableDescriptors {
    /// Descriptors at or above this are always treated as streams (ordered).
    static let limit: Int32 = 1 << 16
    let words: UnsafeMutablePointer<Atomic<UInt64>>

    /// The bitmap's storage (kept by the context for the life of the process).
    static func makeStorage() -> (CacheAlignedStorage, SeekableDescriptors) {
        let count = Int(limit) / 64
        let storage = CacheAlignedStorage(byteCount: count * MemoryLayout<Atomic<UInt64>>.stride)
        let words = storage.initialize(count: count, at: 0) { _ in Atomic<UInt64>(0) }
        return (storage, SeekableDescriptors(words: words))
    }

    @inline(__always)
    func isSeekable(_ fd: Int32) -> Bool {
        guard fd >= 0 && fd < Self.limit else { return false }
        return words[Int(fd) >> 6].load(ordering: .relaxed) & (1 << UInt64(fd & 63)) != 0
    }

    @inline(__always)
    func record(_ fd: Int32, seekable: Bool) {
        guard fd >= 0 && fd < Self.limit else { return }
        let bit = UInt64(1) << UInt64(fd & 63)
        let word = words + (Int(fd) >> 6)
        let now = word.pointee.load(ordering: .relaxed) & bit != 0
        guard now != seekable else { return }
        if seekable { word.pointee.bitwiseOr(bit, ordering: .relaxed) } else { word.pointee.bitwiseAnd(~bit, ordering: .relaxed) }
    }
}
