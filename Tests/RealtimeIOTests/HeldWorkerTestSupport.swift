import Synchronization
@testable import RealtimeIO

#if canImport(Glibc)
import Glibc
#endif

/// Context of ``holdWorker``: word 0 is set when the call starts, word 1
/// releases it, word 2 is what it returns.
let holdWorker: CustomBlockingCall = { context in
    let words = context!.assumingMemoryBound(to: Atomic<Int>.self)
    words[0].store(1, ordering: .releasing)
    while words[1].load(ordering: .acquiring) == 0 { usleep(100) }
    return words[2].load(ordering: .relaxed)
}

/// Counts its runs in the Atomic<Int> behind the context; returns 7.
let countRun: CustomBlockingCall = { context in
    context!.assumingMemoryBound(to: Atomic<Int>.self).pointee.add(1, ordering: .acquiringAndReleasing)
    return 7
}

/// A worker held in a blocking call until ``release()``: the stuck worker of
/// the cancellation tests. Release it on every exit of a test (`defer`), or
/// the engine's shutdown waits for it forever.
final class Hold: @unchecked Sendable {
    let words = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 3)
    /// - Parameter result: what the held call returns once released.
    init(result: Int = 0) {
        words.initialize(to: Atomic(0))
        (words + 1).initialize(to: Atomic(0))
        (words + 2).initialize(to: Atomic(result))
    }
    deinit { words.deallocate() }
    var request: IORequest { .custom(holdWorker, context: UnsafeMutableRawPointer(words)) }
    var started: Bool { words[0].load(ordering: .acquiring) != 0 }
    func waitStarted() -> Bool { waitUntil(seconds: 10) { self.started } }
    func release() { words[1].store(1, ordering: .releasing) }
}

/// A run counter for ``countRun``.
final class RunCounter: @unchecked Sendable {
    let word = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
    init() { word.initialize(to: Atomic(0)) }
    deinit { word.deallocate() }
    var runs: Int { word.pointee.load(ordering: .acquiring) }
    var request: IORequest { .custom(countRun, context: UnsafeMutableRawPointer(word)) }
}
