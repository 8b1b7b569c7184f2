#if canImport(Glibc)
import Glibc
#endif
import CRealtimeIOShims
import RealtimeIO
import SystemPackage

/// How the IOEngine-backed bench engines (`prealloc-*`, `ondemand`) submit
/// reads and collect completions, in one place so they are measured the same way.
///
/// Without waiting: one `reap(rearm: false)` (no syscall). Waiting: spin
/// `spinNanoseconds` on the submitter's CPU reaping without re-arming, then
/// loop `reap(rearm: true)` + `poll(completionFD)` — a reap that finds nothing
/// re-arms the eventfd first, so the poll cannot miss a completion.
struct IOEngineBenchDriver {
    /// Requests submitted and not yet reaped.
    private(set) var inFlight = 0
    var spinNanoseconds: UInt64
    /// > 0: while spinning for completions, a host whose oldest outstanding
    /// read has headed its queue this long without a worker taking it serves
    /// it itself (`IOEngine.serveHere`): the worker is off its CPU (a rest, an
    /// interrupt, the hypervisor). Measured from when the read became the
    /// oldest, so a busy worker working through a queue is never overtaken.
    var serveAfterNanoseconds: UInt64 = 0
    /// The worker every request goes to (`Placement.worker`), whose rests the host watches.
    var restingWorker = 0
    /// Requests this driver served itself.
    private(set) var servedHere = 0
    /// Outstanding requests in submission order (tags below `capacity`), and
    /// each tag's handle: preallocated, no allocation per request.
    private let capacity = Outstanding.capacity
    private let outstanding = Outstanding()
    private var order: UnsafeMutablePointer<UInt64> { outstanding.order }
    private var handles: UnsafeMutablePointer<RequestHandle> { outstanding.handles }
    private var done: UnsafeMutablePointer<Bool> { outstanding.done }
    private var head = 0
    private var tail = 0
    /// When the current oldest request became the oldest (or was last tried).
    private var headSince: UInt64 = 0

    init(spinNanoseconds: UInt64) { self.spinNanoseconds = spinNanoseconds }

    /// Submits one read; false (nothing queued) when the engine refuses it.
    @inline(__always)
    mutating func submitRead(
        _ engine: IOEngine, fd: FileDescriptor, offset: Int64, buffer: UnsafeMutableRawPointer, length: Int,
        tag: UInt64, placement: Placement
    ) -> Bool {
        let handle: RequestHandle
        do {
            handle = try engine.submit(
                .read(fd, into: UnsafeMutableRawBufferPointer(start: buffer, count: length), at: offset),
                tag: tag, placement: placement)
        } catch {
            return false
        }
        if serveAfterNanoseconds > 0 && tag < UInt64(capacity) && tail - head < capacity {
            if head == tail { headSince = rtio_monotonic_ns() }
            handles[Int(tag)] = handle
            done[Int(tag)] = false
            order[tail % capacity] = tag
            tail += 1
        }
        inFlight += 1
        return true
    }

    mutating func reset() { inFlight = 0; servedHere = 0; head = 0; tail = 0 }

    private mutating func reapOnce(_ engine: IOEngine, rearm: Bool, _ body: (UInt64, Int) -> Void) -> Int {
        let tracking = serveAfterNanoseconds > 0
        let n = engine.reap(rearm: rearm) { completion in
            if tracking && completion.tag < UInt64(capacity) { done[Int(completion.tag)] = true }
            body(completion.tag, completion.result)
        }
        inFlight -= n
        if tracking && n > 0 {
            let before = head
            while head < tail && done[Int(order[head % capacity])] { head += 1 }
            if head != before { headSince = rtio_monotonic_ns() }
        }
        return n
    }

    /// The oldest outstanding request has waited `serveAfterNanoseconds` at
    /// the head: serve it here if no worker has taken it.
    @inline(__always)
    private mutating func serveStalledHead(_ engine: IOEngine, now: UInt64) {
        guard head < tail else { return }
        let handle = handles[Int(order[head % capacity])]
        // Not workerRests(handling:): it reads the request's record, a line the
        // worker writes while it serves, on every spin.
        guard now &- headSince >= serveAfterNanoseconds || engine.workerRests(restingWorker) else { return }
        headSince = now
        if engine.serveHere(handle) == .served { servedHere += 1 }
    }

    mutating func reap(_ engine: IOEngine, wait: Bool, _ body: (UInt64, Int) -> Void) -> Int {
        var delivered = reapOnce(engine, rearm: false, body)
        guard wait, delivered == 0, inFlight > 0 else { return delivered }
        if spinNanoseconds > 0 {
            let spinUntil = rtio_monotonic_ns() &+ spinNanoseconds
            var now: UInt64
            repeat {
                rtio_cpu_relax()
                delivered = reapOnce(engine, rearm: false, body)
                if delivered > 0 { return delivered }
                now = rtio_monotonic_ns()
                if serveAfterNanoseconds > 0 { serveStalledHead(engine, now: now) }
            } while now < spinUntil
        }
        var pfd = pollfd(fd: engine.completionFD.rawValue, events: Int16(POLLIN), revents: 0)
        while true {
            delivered = reapOnce(engine, rearm: true, body)
            if delivered > 0 { return delivered }
            _ = poll(&pfd, 1, 100)
        }
    }

    /// Reaps until nothing is in flight (before shutting the engine down).
    mutating func drain(_ engine: IOEngine) {
        while inFlight > 0 { _ = reap(engine, wait: true) { _, _ in } }
    }
}

/// The driver's preallocated bookkeeping of outstanding requests, freed with the driver.
private final class Outstanding {
    static let capacity = 1024
    let order = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
    let handles = UnsafeMutablePointer<RequestHandle>.allocate(capacity: capacity)
    let done = UnsafeMutablePointer<Bool>.allocate(capacity: capacity)
    init() {
        order.initialize(repeating: 0, count: Self.capacity)
        handles.initialize(repeating: RequestHandle(slot: 0, generation: 0), count: Self.capacity)
        done.initialize(repeating: false, count: Self.capacity)
    }
    deinit {
        order.deallocate()
        handles.deallocate()
        done.deallocate()
    }
}

/// An `IOEngine` and its `IOEngineBenchDriver` as the IOEngine-backed bench engines hold them, so
/// that the measured calls cost what the other engines' do: the driver sits behind a pointer (a
/// stored `var` struct in a class takes a dynamic exclusivity check — two runtime calls — on every
/// mutating call; counted with callgrind) and the engine is reached unretained on the hot path (no
/// retain/release per submit or reap; `engine` keeps it alive).
final class DrivenEngine {
    private(set) var engine: IOEngine?
    private var engineRef: Unmanaged<IOEngine>?
    private let storage: UnsafeMutablePointer<IOEngineBenchDriver>

    init(spinNanoseconds: UInt64) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: IOEngineBenchDriver(spinNanoseconds: spinNanoseconds))
    }

    deinit {
        engine?.shutdown(.cancel)
        storage.deinitialize(count: 1)
        storage.deallocate()
    }

    var driver: IOEngineBenchDriver {
        unsafeAddress { UnsafePointer(storage) }
        unsafeMutableAddress { storage }
    }

    /// The engine `submitRead` and `reap` drive from now on.
    func attach(_ engine: IOEngine) {
        self.engine = engine
        engineRef = Unmanaged.passUnretained(engine)
    }

    /// Lets the engine go (after the caller drained it and shut it down).
    func detach() {
        engineRef = nil
        engine = nil
    }

    /// `IOEngineBenchDriver.submitRead` on the attached engine; false without one.
    @inline(__always)
    func submitRead(
        fd: FileDescriptor, offset: Int64, buffer: UnsafeMutableRawPointer, length: Int, tag: UInt64,
        placement: Placement
    ) -> Bool {
        guard let engineRef else { return false }
        return engineRef._withUnsafeGuaranteedRef {
            driver.submitRead($0, fd: fd, offset: offset, buffer: buffer, length: length, tag: tag, placement: placement)
        }
    }

    /// `IOEngineBenchDriver.reap` on the attached engine; 0 without one.
    @inline(__always)
    func reap(wait: Bool, _ body: (UInt64, Int) -> Void) -> Int {
        guard let engineRef else { return 0 }
        return engineRef._withUnsafeGuaranteedRef { driver.reap($0, wait: wait, body) }
    }
}
