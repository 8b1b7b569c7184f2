import CRealtimeIOShims
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// State shared by the host-facing ``IOEngine`` and its workers.
///
/// ## Cache-line layout of the shared flags (one 128-byte line each)
/// - `gate`: submitters in flight ×2, plus bit 0 "closed". Every submit adds 2
///   before touching a ring and subtracts 2 after; shutdown sets bit 0 and waits
///   for the value to drop to 1, after which no producer is between claim and
///   publish — so an empty ring really is empty and no accepted request is lost.
/// - `hostNotified`: the coalescing flag of the completion eventfd (see
///   ``notifyHost()`` and ``IOEngine/reap(maximum:rearm:_:)``).
/// - `stopRequested` / `cancelQueued`: read by workers; sequentially consistent
///   with the workers' park handshake so a stop is never missed by a parked worker.
final class EngineCore: @unchecked Sendable {
    let slab: RequestSlab
    let eventFD: Int32
    let spinBudgetNanoseconds: Int64
    /// Real-time allowance per ``RealtimeShare/windowNanoseconds`` window (see `EngineConfiguration.spinDutyCyclePercent`).
    let spinAllowanceNanoseconds: Int64
    let dutyCycleRest: DutyCycleRest
    let delivery: EngineConfiguration.CompletionDelivery
    let handler: (@Sendable (IOCompletion) -> Void)?
    let workerStartHook: WorkerStartHook?

    private let flagsMemory: UnsafeMutableRawPointer
    let gate: UnsafeMutablePointer<Atomic<Int>>
    let hostNotified: UnsafeMutablePointer<Atomic<Bool>>
    let stopFlag: UnsafeMutablePointer<Atomic<Bool>>
    let cancelFlag: UnsafeMutablePointer<Atomic<Bool>>
    let reaping: UnsafeMutablePointer<Atomic<Bool>>
    let reapEventFDClosed: UnsafeMutablePointer<Atomic<Bool>>

    init(
        slab: RequestSlab, eventFD: Int32, spinBudgetNanoseconds: Int64, spinDutyCyclePercent: Int = 100,
        dutyCycleRest: DutyCycleRest = .park, delivery: EngineConfiguration.CompletionDelivery, handler: (@Sendable (IOCompletion) -> Void)?,
        workerStartHook: WorkerStartHook?
    ) {
        self.slab = slab
        self.eventFD = eventFD
        self.spinBudgetNanoseconds = spinBudgetNanoseconds
        self.spinAllowanceNanoseconds = RealtimeShare.windowNanoseconds * Int64(spinDutyCyclePercent) / 100
        self.dutyCycleRest = dutyCycleRest
        self.delivery = delivery
        self.handler = handler
        self.workerStartHook = workerStartHook
        let line = CacheLine.separation
        flagsMemory = .allocate(byteCount: 3 * line, alignment: line)
        memset(flagsMemory, 0, 3 * line)
        gate = flagsMemory.bindMemory(to: Atomic<Int>.self, capacity: 1)
        gate.initialize(to: Atomic(0))
        hostNotified = (flagsMemory + line).bindMemory(to: Atomic<Bool>.self, capacity: 1)
        hostNotified.initialize(to: Atomic(false))
        let third = flagsMemory + 2 * line
        stopFlag = third.bindMemory(to: Atomic<Bool>.self, capacity: 4)
        stopFlag.initialize(to: Atomic(false))
        cancelFlag = stopFlag + 1
        cancelFlag.initialize(to: Atomic(false))
        reaping = stopFlag + 2
        reaping.initialize(to: Atomic(false))
        reapEventFDClosed = stopFlag + 3
        reapEventFDClosed.initialize(to: Atomic(false))
    }

    deinit { flagsMemory.deallocate() }

    // MARK: submit gate

    /// Enters the submit path; false once the engine is closed.
    @inline(__always) func enterSubmit() -> Bool {
        if gate.pointee.add(2, ordering: .acquiringAndReleasing).newValue & 1 != 0 {
            gate.pointee.subtract(2, ordering: .releasing)
            return false
        }
        return true
    }

    @inline(__always) func leaveSubmit() {
        gate.pointee.subtract(2, ordering: .releasing)
    }

    /// Closes the gate and waits until no submitter is inside. Returns false if it was already closed.
    func closeGate() -> Bool {
        let previous = gate.pointee.bitwiseOr(1, ordering: .acquiringAndReleasing).oldValue
        while gate.pointee.load(ordering: .acquiring) != 1 { sched_yield() }
        return previous & 1 == 0
    }

    var isClosed: Bool { gate.pointee.load(ordering: .acquiring) & 1 != 0 }

    // MARK: stop

    @inline(__always) var stopRequested: Bool { stopFlag.pointee.load(ordering: .sequentiallyConsistent) }
    @inline(__always) var cancelQueued: Bool { cancelFlag.pointee.load(ordering: .relaxed) }

    // MARK: completion notification

    // The eventfd is written at most once per re-arm: `hostNotified` says "a
    // write is done or on its way since the host last re-armed". Invariant the
    // two sides keep: whenever the flag is set, the counter is non-zero or the
    // write that will make it so has not happened yet — never "set, and the
    // write already consumed". Otherwise every later notification is skipped
    // and a host asleep on the fd never wakes.

    /// Worker side, after pushing completions: write the eventfd only if the
    /// host has re-armed since the last write.
    ///
    /// The fence pairs with the one in ``rearmHostNotification(_:)``: either
    /// this load sees the host's cleared flag and writes, or the host's re-check
    /// after its fence sees the completions just pushed.
    @inline(__always) func notifyHost() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if !hostNotified.pointee.load(ordering: .relaxed),
           !hostNotified.pointee.exchange(true, ordering: .acquiringAndReleasing) {
            var one: UInt64 = 1
            _ = write(eventFD, &one, 8)
        }
    }

    /// Points inside ``rearmHostNotification(_:)``, for tests that run a
    /// worker's notification at each of them.
    enum RearmStep: CaseIterable { case start, counterConsumed, flagCleared }

    /// Host side, before it sleeps on the eventfd: if a notification was sent
    /// since the last re-arm, consume the counter, *then* clear the flag; then
    /// fence. The caller re-checks the completion rings after this returns.
    ///
    /// The order is the point. Clearing first and reading second (this
    /// engine's first version) lets a worker's late notification — for
    /// completions the host had already polled out — land between the two:
    /// the worker sets the flag and writes, the host's read swallows the write,
    /// the flag stays set, every later completion skips its write, and a host
    /// asleep on the fd never wakes (seen in rtio-bench as reaper stalls ended
    /// only by poll's timeout). Reading first, a write can only be swallowed
    /// before the clear, and the clear re-opens notifications.
    ///
    /// After a clear exactly one worker wins the flag and writes once. So a
    /// set flag with nothing to read means the winner's write is still on its
    /// way: the flag stays set and that write wakes the host. (Clearing then
    /// would leave the late write's count behind a cleared flag, and every
    /// later re-arm, skipping the read, would wake at once.) With the flag
    /// clear there is nothing to consume: no syscall.
    @inline(__always) func rearmHostNotification(_ probe: (RearmStep) -> Void = { _ in }) {
        probe(.start)
        if hostNotified.pointee.load(ordering: .acquiring) {
            var counter: UInt64 = 0
            let closed = isClosedForReap
            let consumed = !closed && read(eventFD, &counter, 8) == 8
            probe(.counterConsumed)
            if consumed || closed { hostNotified.pointee.store(false, ordering: .sequentiallyConsistent) }
            probe(.flagCleared)
        }
        atomicMemoryFence(ordering: .sequentiallyConsistent)
    }
}

/// A C function run by each worker thread right after it starts, before it
/// takes work (register the thread with a profiler, set thread-locals, …).
public struct WorkerStartHook: @unchecked Sendable {
    public let function: @convention(c) (UnsafeMutableRawPointer?) -> Void
    public let context: UnsafeMutableRawPointer?
    public init(_ function: @convention(c) (UnsafeMutableRawPointer?) -> Void, context: UnsafeMutableRawPointer? = nil) {
        self.function = function
        self.context = context
    }
}

extension EngineCore {
    /// Set (before close) by shutdown, so a later reap does not read a closed descriptor.
    func markEventFDClosed() { reapEventFDClosed.pointee.store(true, ordering: .releasing) }
    var isClosedForReap: Bool { reapEventFDClosed.pointee.load(ordering: .acquiring) }
}
