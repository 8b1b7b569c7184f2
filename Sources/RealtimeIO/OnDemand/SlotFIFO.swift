
/// A fixed-capacity FIFO of request-slot indices. Not thread-safe: it lives
/// inside a `Mutex`'s value. Allocated once; push and pop never allocate.
///
/// Sized to the slab's slot count, a push can never find it full: a slot
/// index is in at most one queue at a time.
package struct SlotFIFO: ~Copyable {
    package let capacity: Int
    private let buffer: UnsafeMutablePointer<UInt32>
    private var head = 0
    package private(set) var count = 0

    package init(capacity: Int) {
        self.capacity = max(1, capacity)
        buffer = .allocate(capacity: self.capacity)
    }

    deinit { buffer.deallocate() }

    package var isEmpty: Bool { count == 0 }

    /// Appends `slot`; false (nothing changed) when full.
    package mutating func push(_ slot: UInt32) -> Bool {
        guard count < capacity else { return false }
        var tail = head + count
        if tail >= capacity { tail -= capacity }
        buffer[tail] = slot
        count += 1
        return true
    }

    /// Removes the oldest slot.
    package mutating func pop() -> UInt32? {
        guard count > 0 else { return nil }
        let slot = buffer[head]
        head += 1
        if head == capacity { head = 0 }
        count -= 1
        return slot
    }
}
