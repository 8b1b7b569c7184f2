#if canImport(Glibc)
import Glibc
#endif

/// Zero-filled raw memory aligned to ``CacheLine/separation``, owned by one
/// object and freed with it: the one way the engine lays out memory that
/// threads share (rings, slab, flags, counters).
///
/// Every byte is written at init, so every page is faulted in (and, under
/// `mlockall`, locked) before any thread uses it — never on the I/O path.
///
/// ## Invariants
/// - `base` is aligned to 128 bytes and `byteCount` is a whole number of
///   lines; regions handed out by ``line(_:)`` never share a line (no false
///   sharing between fields placed on different lines).
/// - Values placed with ``initialize(_:at:)`` are plain or atomic values with
///   no deinitialiser to run: the storage is deallocated without
///   deinitialising them.
package final class CacheAlignedStorage {
    package let base: UnsafeMutableRawPointer
    package let byteCount: Int

    /// Allocates at least `byteCount` bytes (rounded up to whole lines) and zeroes them.
    package init(byteCount: Int) {
        let line = CacheLine.separation
        self.byteCount = Self.allocatedByteCount(byteCount)
        base = .allocate(byteCount: self.byteCount, alignment: line)
        memset(base, 0, self.byteCount)
    }

    /// The bytes `init(byteCount:)` allocates for a request of `byteCount` (for ``EngineFootprint``).
    package static func allocatedByteCount(_ byteCount: Int) -> Int {
        CacheLine.roundUp(max(byteCount, 1), to: CacheLine.separation)
    }

    /// Allocates `lines` zeroed lines.
    package convenience init(lines: Int) { self.init(byteCount: lines * CacheLine.separation) }

    /// The start of line `index`.
    @inline(__always) package func line(_ index: Int) -> UnsafeMutableRawPointer {
        base + index * CacheLine.separation
    }

    /// Binds the memory at byte `offset` to `T` and initialises it to `value`.
    package func initialize<T: ~Copyable>(_ value: consuming T, at offset: Int) -> UnsafeMutablePointer<T> {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= byteCount && offset % MemoryLayout<T>.alignment == 0)
        let p = (base + offset).bindMemory(to: T.self, capacity: 1)
        p.initialize(to: value)
        return p
    }

    deinit { base.deallocate() }
}
