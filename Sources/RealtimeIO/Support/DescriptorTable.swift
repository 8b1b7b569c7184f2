/// A fixed-size map from descriptor numbers to two `Int32` values (e.g. the
/// head and tail of a per-descriptor chain), keyed by the exact number.
///
/// Open addressing with linear probing and backward-shift deletion: no
/// tombstones, so a lookup of an absent descriptor stops at the first empty
/// entry. The table has at least twice as many entries as ``capacity``, the
/// most descriptors it may hold at once, so it is never more than half full
/// and an insert always finds room. Allocated and touched at init; nothing
/// allocates afterwards.
///
/// ## Ownership
/// Not synchronised: one owner, or the caller's lock around every call.
/// Entry indices are valid until the next ``insert(_:)`` or ``remove(entry:)``
/// (a removal may move other entries).
package final class DescriptorTable {
    /// The most descriptors held at once.
    package let capacity: Int
    private let mask: Int
    /// 32 − log2(entries): ``home(_:)`` keeps the product's high bits.
    private let shift: UInt32
    private let storage: CacheAlignedStorage
    private let fds: UnsafeMutablePointer<Int32>
    /// The first value of each entry.
    package let first: UnsafeMutablePointer<Int32>
    /// The second value of each entry.
    package let second: UnsafeMutablePointer<Int32>

    package init(capacity: Int) {
        self.capacity = max(1, capacity)
        var entries = 64
        while entries < 2 * self.capacity { entries <<= 1 }
        mask = entries - 1
        shift = UInt32(32 - entries.trailingZeroBitCount)
        let stride = MemoryLayout<Int32>.stride
        storage = CacheAlignedStorage(byteCount: 3 * entries * stride)
        fds = storage.base.bindMemory(to: Int32.self, capacity: 3 * entries)
        fds.initialize(repeating: -1, count: 3 * entries)
        first = fds + entries
        second = fds + 2 * entries
    }

    /// Entries in the table (a power of two ≥ 2 × ``capacity``).
    package var entryCount: Int { mask + 1 }

    /// Where `fd`'s probe starts: Fibonacci hashing — the high bits of the
    /// product, which every bit of `fd` reaches (its low bits alone would
    /// give numbers that differ by a multiple of the table size one home).
    @inline(__always)
    package func home(_ fd: Int32) -> Int { Int((UInt32(bitPattern: fd) &* 0x9E37_79B1) >> shift) }

    /// The entry of `fd`, if present.
    package func find(_ fd: Int32) -> Int? {
        var e = home(fd)
        while fds[e] >= 0 {
            if fds[e] == fd { return e }
            e = (e + 1) & mask
        }
        return nil
    }

    /// Adds `fd` (absent, ≥ 0; at most ``capacity`` held) with both values -1;
    /// returns its entry.
    package func insert(_ fd: Int32) -> Int {
        precondition(fd >= 0, "DescriptorTable: negative descriptor \(fd)")
        var e = home(fd)
        while fds[e] >= 0 { e = (e + 1) & mask }  // at most half full: an empty entry exists
        fds[e] = fd
        first[e] = -1
        second[e] = -1
        return e
    }

    /// Removes entry `e`, shifting later entries of its probe run back so
    /// every remaining descriptor stays reachable from its home.
    package func remove(entry e: Int) {
        var hole = e
        var j = e
        while true {
            j = (j + 1) & mask
            if fds[j] < 0 { break }
            let k = home(fds[j])
            // j's descriptor stays if its home lies cyclically in (hole, j]; else it fills the hole.
            if hole <= j ? (hole < k && k <= j) : (hole < k || k <= j) { continue }
            fds[hole] = fds[j]
            first[hole] = first[j]
            second[hole] = second[j]
            hole = j
        }
        fds[hole] = -1
        first[hole] = -1
        second[hole] = -1
    }

    /// The descriptor at entry `e` (-1: empty).
    package func descriptor(at e: Int) -> Int32 { fds[e] }
}
