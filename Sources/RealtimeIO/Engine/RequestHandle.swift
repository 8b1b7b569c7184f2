/// Names one accepted request, for ``IOEngine/cancel(_:)``: returned by
/// ``IOEngine/submit(_:tag:placement:)``.
///
/// A handle is a slot index and the slot's generation at submit; it stays
/// valid (and harmless) after its request finished — the slot's next request
/// has another generation, so a stale handle can never cancel it. It is
/// meaningful only to the engine that issued it. Two machine words, no
/// reference: copying, hashing and storing it are free.
public struct RequestHandle: Sendable, Hashable {
    /// The request slot.
    package let slot: UInt32
    /// The slot's generation when the request was submitted (never 0).
    package let generation: UInt32

    /// A handle for `slot` at `generation` (see ``RequestSlab/markQueued(_:)``).
    package init(slot: UInt32, generation: UInt32) {
        self.slot = slot
        self.generation = generation
    }

    /// The handle as one 64-bit value (generation in the high half): what the C
    /// ABI's `rtio_handle_t` carries. Never 0.
    package var rawValue: UInt64 { UInt64(generation) << 32 | UInt64(slot) }

    /// The handle a ``rawValue`` encodes; nil for 0 (generation 0 is never issued).
    package init?(rawValue: UInt64) {
        guard rawValue >> 32 != 0 else { return nil }
        self.init(slot: UInt32(truncatingIfNeeded: rawValue), generation: UInt32(truncatingIfNeeded: rawValue >> 32))
    }
}
