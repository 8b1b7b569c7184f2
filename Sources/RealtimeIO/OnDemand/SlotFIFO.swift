/// A fixed-capacity FIFO of request-slot indices. Not thread-safe: it lives
/// inside a `Mutex`'s value. Allocated once; push and pop never allocate.
///
/// Sized to the slab's slot count, a push can never find it full: a slot
/// index is in at most one queue at a time.
struct SlotFIFO: ~Copyable {
    let capacity: Int
    private let buffer: UnsafeMutablePointer<UInt32>
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        buffer = .allocate(capacity: self.capacity)
    }

    deinit { buffer.deallocate() }

    var isEmpty: Bool { count == 0 }

    /// Appends `slot`; false (nothing changed) when full.
    mutating func push(_ slot: UInt32) -> Bool {
        guard count < capacity else { return false }
        var tail = head + count
        if tail >= capacity { tail -= capacity }
        buffer[tail] = slot
        count += 1
        return true
    }

    /// Removes the oldest slot.
    mutating func pop() -> UInt32? {
        guard count > 0 else { return nil }
        let slot = buffer[head]
        head += 1
        if head == capacity { head = 0 }
        count -= 1
        return slot
    }
}
