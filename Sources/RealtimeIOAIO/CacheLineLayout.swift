// How the drop-in lays out the memory its threads share: regions of one
// CacheAlignedStorage, each starting on its own cache line.
import RealtimeIO

/// Byte offsets of the regions of one ``CacheAlignedStorage``, each region
/// starting on a cache line of its own, so that words written by different
/// threads in different regions never false-share.
///
/// Reserve every region first, allocate `CacheAlignedStorage(byteCount:)`,
/// then initialise each region at its offset.
struct CacheLineLayout {
    /// Bytes reserved so far: a whole number of lines.
    private(set) var byteCount = 0

    /// Reserves `count` values of `T` starting on a fresh line; returns their byte offset.
    mutating func reserve<T: ~Copyable>(_: T.Type, count: Int = 1) -> Int {
        let offset = byteCount
        byteCount += CacheLine.roundUp(max(1, count) * MemoryLayout<T>.stride, to: CacheLine.separation)
        return offset
    }
}

extension CacheAlignedStorage {
    /// Binds `count` values at byte `offset` to `T` and initialises value `i`
    /// to `element(i)`. Like ``CacheAlignedStorage/initialize(_:at:)``, `T`
    /// must have no deinitialiser to run.
    func initialize<T: ~Copyable>(count: Int, at offset: Int, _ element: (Int) -> T) -> UnsafeMutablePointer<T> {
        precondition(count >= 0 && offset >= 0 && offset + count * MemoryLayout<T>.stride <= byteCount
                     && offset % MemoryLayout<T>.alignment == 0)
        let p = (base + offset).bindMemory(to: T.self, capacity: count)
        for i in 0..<count { (p + i).initialize(to: element(i)) }
        return p
    }
}
