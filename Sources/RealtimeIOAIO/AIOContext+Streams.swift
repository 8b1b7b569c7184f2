// The drop-in's stream threads: where a pipe's, socket's or FIFO's requests
// run, so that no preallocated worker ever blocks on a stream.
import RealtimeIO

#if canImport(Glibc)
import Glibc
#endif

/// ## Streams
/// A read on a pipe or socket may wait for ever, and the writer it waits for
/// may be queued behind it: with descriptor-ordered placement, two ends of a
/// socket pair whose numbers map to the same worker deadlock (one worker
/// blocked in `read`, the `write` behind it). glibc runs each descriptor on a
/// thread of its own; the drop-in does the same for streams only:
///
/// 1. A preallocated worker runs ``SlotOperation/forwardingStreams``: a
///    descriptor whose stream bit is set, or whose `pread`/`pwrite` fails with
///    `ESPIPE`, is not served; the call returns ``SlotOperation/forwarded``.
/// 2. ``complete(_:)`` (same worker) then calls ``handToStreamThreads(_:)``:
///    the request joins its descriptor's ``DescriptorChains`` chain and, if it
///    is the head, goes to the stream engine — an on-demand engine whose
///    threads (at most ``streamThreads``, created by its spawner thread with
///    the process's CPUs, idle ones exit after a second) block in
///    `read`/`write` as long as the stream needs.
/// 3. Each completion there hands the chain's next request to the stream
///    engine: one request per descriptor at a time, in submission order.
///
/// Order holds across the hand-over: all requests of a descriptor go through
/// its one worker, which hands them on in the order it dequeues them. The
/// worker pays a priority-inheriting mutex (the chain) and the on-demand
/// engine's submit, once per stream request; files never take this path.
extension AIOContext {
    /// Most stream threads alive at once (glibc's `aio_threads` default is 20).
    static let streamThreads = 20

    /// The stream engine for a context whose engine has preallocated workers,
    /// or nil (reported; streams then run on the workers, as without it).
    static func startStreamEngine(for main: EngineConfiguration, box: ContextBox) -> IOEngine? {
        var configuration = EngineConfiguration(
            groups: [], ringCapacity: 2, requestsInFlight: main.requestsInFlight, memoryLocking: .none,
            privilegePolicy: .bestEffort, spinBudget: .zero, tuneMalloc: false,
            onDemand: .init(maxThreads: streamThreads, idleTimeout: .seconds(1), spawner: .spawnerThread))
        configuration.completionDelivery = .workerHandler { completion in box.context.unsafelyUnwrapped.complete(completion) }
        do {
            // No status file: rtio-admin lists the drop-in once, by its main engine.
            return try IOEngine(
                configuration: configuration, workerStartHook: WorkerStartHook(blockAllSignals), publishesStatus: false)
        } catch {
            writeDiagnostic("rtio-aio: cannot start the stream threads: \(error); pipe and socket requests run on the preallocated workers")
            return nil
        }
    }

    /// A preallocated worker found `slot`'s descriptor to be a stream (its
    /// engine request is over, no data moved): the request joins its chain
    /// and, if it heads it, goes to the stream engine.
    func handToStreamThreads(_ slot: Int) {
        let r = slots.request(slot)
        r.pointee.chained = true
        if chains.unsafelyUnwrapped.append(slot, fd: r.pointee.fd) { submitChained(slot) }
    }
}
