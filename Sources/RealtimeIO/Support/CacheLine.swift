
/// Layout constants for memory shared between threads.
package enum CacheLine {
    /// Distance kept between independently written hot fields. 128 bytes, not 64:
    /// x86's adjacent-line prefetcher pulls cache lines in pairs, so two fields
    /// 64 bytes apart still false-share.
    package static let separation = 128

    /// Rounds `value` up to a multiple of `alignment` (a power of two).
    @inlinable
    package static func roundUp(_ value: Int, to alignment: Int) -> Int {
        (value + alignment - 1) & ~(alignment - 1)
    }
}
