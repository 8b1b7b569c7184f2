import Testing

/// Tags say what a suite needs and what it exercises; `.ci/run` selects by them
/// (its `tagged_tests`), so a tag is the only place that decides where a test runs.
extension Tag {
    /// Exercises concurrent code of the library: threads racing on the submission ring, the
    /// request slab or the completion eventfd, workers serving requests, the on-demand pool,
    /// the duty-cycle rest, shutdown while work is in flight. `.ci/run` runs every test with
    /// this tag under ThreadSanitizer (loop counts scaled by `RTIO_TSAN`, see `scaled(_:)`).
    @Tag static var concurrency: Self

    /// Needs root (or CAP_SYS_NICE/CAP_IPC_LOCK/CAP_SETPCAP/CAP_SETFCAP and setuid): real-time
    /// workers with `.required` privileges, dropping capabilities or changing user in a child,
    /// `setcap`, locked memory.
    @Tag static var needsRoot: Self

    /// Compiles C programs with `cc` (Tests/CPrograms) and runs them against the built
    /// librealtimeio.so / librtio-aio.so; `tools/setup` installs the compiler and fio.
    @Tag static var cPrograms: Self

    /// Asserts that heap allocations (the CMallocCounter interposer) or page faults stay at
    /// zero. Meaningless under a sanitizer, whose runtime allocates and faults on shadow memory.
    @Tag static var allocationCounting: Self
}
