import CRealtimeIOShims
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A worker's own io_uring (``EngineConfiguration/WorkerGroup/inFlight`` > 1):
/// the worker keeps up to ``capacity`` requests in the kernel at once instead
/// of blocking in one syscall per request.
///
/// ## Ownership
/// Created, used and closed by one worker thread only (the kernel ties a
/// ring's task work to the thread that submits on it). Nothing here is shared;
/// the request records it points into belong to the worker while they are in
/// flight (`RequestState.running`).
///
/// ## Sleeping with requests in flight
/// The worker must wake for a completion *or* a new submission. It sleeps in
/// `io_uring_enter` with a `FUTEX_WAIT` armed on its ring's wake-up word
/// (``ConsumerWakeup``): it announces `sleeping` as for a park, so the producer
/// that sees it makes the usual `futex_wake`, which completes the armed wait.
/// The armed wait may outlive one sleep (the sleep ended on an I/O completion);
/// it stays armed and serves the next, and ``ConsumerWakeup/wakeParked()``
/// wakes every waiter on the word, so a later plain park of the same worker
/// is never the one left asleep.
///
/// ## Shutdown
/// ``cancelAll()`` (``IOEngine/ShutdownMode/cancel``) asks the kernel to cancel
/// everything in flight: a read blocked on a pipe then completes with
/// `ECANCELED`, exactly once, like any request; one at the device completes
/// normally. The worker exits once nothing is in flight.
///
/// ## user_data
/// A request's slot index; ``futexTag`` for the armed wait, ``cancelTag`` for
/// the cancellation.
final class WorkerIORing {
    /// Requests this worker may have in the kernel at once.
    let capacity: Int
    /// Requests prepared or in the kernel (not the armed futex wait).
    private(set) var inFlight = 0
    private let ring: UnsafeMutablePointer<rtio_ioring>
    private var futexArmed = false
    private var cancelling = false
    static let futexTag = UInt64.max
    static let cancelTag = UInt64.max - 1

    /// Sets up a ring for `capacity` requests plus the futex wait. Call on the
    /// worker's own thread.
    init(capacity: Int) throws(Errno) {
        ring = .allocate(capacity: 1)
        let rc = rtio_ioring_init(ring, UInt32(capacity + 1))
        guard rc == 0 else {
            ring.deallocate()
            throw Errno(rawValue: -rc)
        }
        self.capacity = min(capacity, Int(ring.pointee.entries) - 1)
    }

    deinit {
        rtio_ioring_exit(ring)
        ring.deallocate()
    }

    var isFull: Bool { inFlight >= capacity }
    var hasCompletion: Bool { rtio_ioring_has_completion(ring) }

    /// Prepares `record` (slot `slot`) if its operation runs in the ring;
    /// false: run it on the thread (`custom`, a length io_uring cannot carry).
    /// The caller has checked ``isFull``.
    @inline(__always)
    func prepare(_ slot: UInt32, _ r: UnsafeMutablePointer<RequestRecord>) -> Bool {
        let tag = UInt64(slot)
        let rc: Int32
        switch r.pointee.opcode {
        case .read, .write:
            guard r.pointee.length <= Int(Int32.max) else { return false }
            rc = rtio_ioring_prep_rw(ring, r.pointee.opcode == .write, false, r.pointee.fd, r.pointee.buffer,
                                    UInt32(r.pointee.length), UInt64(bitPattern: r.pointee.offset), tag)
        case .readv, .writev:
            let iov: UnsafeMutableRawPointer? = r.pointee.flags & RequestFlags.inlineIOVecs != 0
                ? withUnsafeMutablePointer(to: &r.pointee.inlineIOVecs) { UnsafeMutableRawPointer($0) }
                : r.pointee.buffer
            rc = rtio_ioring_prep_rw(ring, r.pointee.opcode == .writev, true, r.pointee.fd, iov,
                                    UInt32(truncatingIfNeeded: r.pointee.length), UInt64(bitPattern: r.pointee.offset), tag)
        case .fsync, .fdatasync:
            rc = rtio_ioring_prep_fsync(ring, r.pointee.fd, r.pointee.opcode == .fdatasync, tag)
        case .fallocate:
            rc = rtio_ioring_prep_fallocate(ring, r.pointee.fd, r.pointee.mode, r.pointee.offset, Int64(r.pointee.length), tag)
        case .custom:
            return false
        }
        guard rc == 0 else { return false }  // -EBUSY: cannot happen below capacity; run it on the thread
        inFlight += 1
        return true
    }

    /// Submits what was prepared; with `wait`, sleeps until a completion is
    /// ready. A failure (-EINTR: a signal; -EAGAIN/-EBUSY: the kernel short of
    /// memory) leaves the entries prepared: the caller's loop reaps, and the
    /// next ``wait(for:acceptEntries:spinNanoseconds:willSleep:)`` submits again.
    @inline(__always)
    func submit(wait: Bool) {
        _ = rtio_ioring_submit(ring, wait ? 1 : 0)
    }

    /// Reaps every ready completion: `body(slot, result)` for each request.
    @inline(__always)
    func reap(_ body: (UInt32, Int) -> Void) {
        var tag: UInt64 = 0
        var res: Int32 = 0
        while rtio_ioring_reap(ring, &tag, &res) {
            if tag == Self.futexTag {
                futexArmed = false
                continue
            }
            if tag == Self.cancelTag { continue }
            inFlight -= 1
            body(UInt32(truncatingIfNeeded: tag), Int(res))
        }
    }

    /// True once ``cancelAll()`` has asked the kernel to cancel.
    var isCancelling: Bool { cancelling }

    /// Cancels every request in flight (once; see "Shutdown").
    func cancelAll() {
        guard !cancelling, inFlight > 0 else { return }
        cancelling = rtio_ioring_prep_cancel_all(ring, Self.cancelTag) == 0
        submit(wait: false)
    }

    /// Waits with requests in flight until a completion is ready or, when
    /// `acceptEntries` (the ring has room), a producer publishes on `queue`:
    /// spins up to `spinNanoseconds`, then sleeps (announced, see "Sleeping
    /// with requests in flight" — announced even when full, so a shutdown's
    /// wake-up reaches it). `willSleep` runs just before the sleep.
    ///
    /// `interrupted` (the caller's: a shutdown that must cancel what is in
    /// flight) is checked while spinning and after `sleeping` is announced,
    /// like `shouldStop` in ``SubmissionRing/waitForEntries(spinNanoseconds:timeoutNanoseconds:shouldStop:willPark:)``:
    /// a shutdown that stored its request before its wake-up found `awake`
    /// is seen by that re-check.
    func wait(
        for queue: SubmissionRing, acceptEntries: Bool, spinNanoseconds: Int64, interrupted: () -> Bool,
        willSleep: () -> Void
    ) {
        if rtio_ioring_unsubmitted(ring) > 0 { submit(wait: false) }
        if hasCompletion || (acceptEntries && queue.hasPublishedEntry()) || interrupted() { return }
        if spinNanoseconds > 0 {
            let deadline = rtio_monotonic_ns() &+ UInt64(spinNanoseconds)
            while true {
                for _ in 0..<32 {
                    rtio_cpu_relax()
                    if hasCompletion || (acceptEntries && queue.hasPublishedEntryRelaxed()) { return }
                }
                if rtio_monotonic_ns() >= deadline || interrupted() { break }
            }
        }
        let wakeup = queue.wakeup
        wakeup.prepareToPark()
        if hasCompletion || (acceptEntries && queue.hasPublishedEntry()) || interrupted() {
            wakeup.cancelPark()
            return
        }
        willSleep()
        wakeup.park {
            if !futexArmed {
                futexArmed = rtio_ioring_prep_futex_wait(ring, wakeup.futexWord, ConsumerWakeup.sleeping, Self.futexTag) == 0
            }
            submit(wait: true)
        }
    }
}
