import Synchronization

/// For hosts whose event loop reads ``IOEngine/completionFD`` itself.
extension IOEngine {

    /// Tells the engine that the host consumed ``completionFD``'s counter with
    /// its own `read(2)`, so that the next completion makes the descriptor
    /// readable again. Call it after every such read that returned 8 bytes,
    /// then ``reap(maximum:rearm:_:)`` (with `rearm: true`) until it returns 0.
    ///
    /// Some event loops cannot watch a descriptor without reading it: a
    /// SwiftNIO channel over the eventfd (`RealtimeIONIO`) reads it whenever it
    /// is readable. ``reap(maximum:rearm:_:)`` re-arms by reading the counter
    /// and *then* clearing the notified flag; if the loop already took the
    /// counter, reap's read finds nothing, the flag stays set, no worker writes
    /// the eventfd again and the host would sleep forever. This call is the
    /// second half of that re-arm: the counter is consumed, so it clears the
    /// flag and fences (pairing with the fence in the workers' notification,
    /// as the re-arm does); the `reap` calls that follow re-check the rings.
    ///
    /// Always safe: a cleared flag can at worst cost one spurious wake-up
    /// (a worker writes although the host is awake), never a lost one. No
    /// syscall; one store and one fence. Any thread; not for hosts that only
    /// `poll`/`epoll` the descriptor (they never read it: reap does).
    public func completionFDWasRead() {
        core.hostNotified.pointee.store(false, ordering: .sequentiallyConsistent)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
    }
}
