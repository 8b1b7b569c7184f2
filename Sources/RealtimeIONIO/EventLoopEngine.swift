import NIOCore
import NIOPosix
import RealtimeIO
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An ``RealtimeIO/IOEngine`` whose completions arrive on one SwiftNIO `EventLoop`.
///
/// ## Synopsis
/// ```swift
/// let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
/// let engine = try IOEngine(configuration: configuration)
/// let loopEngine = try await EventLoopEngine.register(engine, on: group.next()).get()
/// let completion = try await loopEngine.submit(.read(fd, into: buffer, at: 0)).get()
/// // … completion.result: bytes read or -errno, on group.next()'s thread
/// try await loopEngine.close().get()
/// engine.shutdown()
/// ```
///
/// ## Description
/// `register` hands a duplicate of ``RealtimeIO/IOEngine/completionFD`` to the
/// loop as the input of a `NIOPipeBootstrap` channel (the one public SwiftNIO
/// route for watching a descriptor that is not a socket). When the eventfd is
/// readable the channel reads its counter; the channel's handler then tells the
/// engine so (``RealtimeIO/IOEngine/completionFDWasRead()``, which re-opens
/// notifications) and calls ``RealtimeIO/IOEngine/reap(maximum:rearm:_:)``
/// with `rearm: true` until it returns 0 — the engine's re-arm protocol, so a
/// completion that lands between the last reap and the loop's next `epoll_wait`
/// makes the descriptor readable again and is never lost.
///
/// Completions reach the host two ways, both on ``eventLoop``:
/// - ``submit(_:tag:placement:)`` returns an `EventLoopFuture<IOCompletion>`
///   fulfilled exactly once with the request's completion. The adapter keeps the
///   promise in a table preallocated with one cell per request slot
///   (``RealtimeIO/EngineConfiguration/requestsInFlight``) and submits with a
///   tag of its own (``reservedTagBit`` set, the cell's index below it); the
///   completion carries the caller's tag back.
/// - Requests the host submits to the engine directly (tags without
///   ``reservedTagBit``) are handed to the `onCompletion` callback.
///
/// ## Cost
/// The engine's I/O path is unchanged: workers write the eventfd as for any
/// host. Per `submit` the adapter allocates the promise (as SwiftNIO always
/// does) and takes a short lock on the promise table; per completion it takes
/// that lock once more. Per wake-up the loop makes the channel's `read(2)`;
/// `reap` itself makes no syscall unless it re-arms a set notification.
///
/// ## Rules
/// - The engine must use ``RealtimeIO/EngineConfiguration/CompletionDelivery/completionRing``
///   (the default); `register` fails otherwise.
/// - The adapter is the engine's only reaper: nothing else may call `reap` or
///   read ``RealtimeIO/IOEngine/completionFD`` while it is registered.
/// - Tags of requests submitted directly must leave ``reservedTagBit`` clear.
/// - ``close()`` once before releasing; after the engine's
///   ``RealtimeIO/IOEngine/shutdown(_:)`` if every future must be fulfilled by
///   its completion (shutdown completes every accepted request; `close` fails
///   the futures still outstanding with ``EventLoopEngineError/closed``).
public final class EventLoopEngine: Sendable {
    /// Tag bit 63 marks the adapter's own requests; host tags must leave it clear.
    public static let reservedTagBit: UInt64 = 1 << 63

    /// The engine whose completions this adapter delivers.
    public let engine: IOEngine
    /// The loop every future is fulfilled on and `onCompletion` runs on.
    public let eventLoop: any EventLoop

    private let onCompletion: (@Sendable (IOCompletion) -> Void)?
    /// `AnnotatedMutex`: the standard `Mutex`, its critical sections announced to
    /// ThreadSanitizer (which cannot see the futex it locks with).
    private let state: AnnotatedMutex<State>

    /// The promise table and the channel. Owned by `state`'s lock; promises are
    /// taken out under it and fulfilled outside it (a future's callbacks may
    /// submit again).
    private struct State {
        /// One cell per request slot: the promise and the caller's tag.
        var pending: [(promise: EventLoopPromise<IOCompletion>, tag: UInt64)?]
        /// Indices of empty cells (a stack; preallocated to the table's size).
        var free: [Int]
        var channel: (any Channel)?
        var closed = false

        /// Closes the table (once): the channel to close and the promises to
        /// fail; `(nil, [])` if it was closed already.
        mutating func close() -> (channel: (any Channel)?, orphans: [EventLoopPromise<IOCompletion>]) {
            if closed { return (nil, []) }
            closed = true
            let orphans = pending.compactMap { $0?.promise }
            for i in pending.indices { pending[i] = nil }
            free.removeAll()
            defer { channel = nil }
            return (channel, orphans)
        }
    }

    private init(engine: IOEngine, eventLoop: any EventLoop, onCompletion: (@Sendable (IOCompletion) -> Void)?) {
        self.engine = engine
        self.eventLoop = eventLoop
        self.onCompletion = onCompletion
        let cells = max(1, engine.configuration.requestsInFlight)
        state = AnnotatedMutex(State(
            pending: Array(repeating: nil, count: cells),
            free: Array((0..<cells).reversed())))
    }

    /// Starts delivering `engine`'s completions on `eventLoop`.
    ///
    /// - Parameters:
    ///   - engine: an engine with `eventfd` completion delivery and no other reaper.
    ///   - eventLoop: a SwiftNIO POSIX event loop (`MultiThreadedEventLoopGroup`).
    ///   - onCompletion: runs on `eventLoop` for each completion of a request
    ///     submitted directly to the engine (tag without ``reservedTagBit``);
    ///     nil drops those completions.
    /// - Returns: a future for the adapter, fulfilled once the eventfd is watched;
    ///   failed with ``EventLoopEngineError`` if the engine delivers completions to
    ///   a worker handler, or the descriptor cannot be duplicated or registered.
    public static func register(
        _ engine: IOEngine, on eventLoop: any EventLoop,
        onCompletion: (@Sendable (IOCompletion) -> Void)? = nil
    ) -> EventLoopFuture<EventLoopEngine> {
        guard engine.configuration.completionDelivery == .completionRing else {
            return eventLoop.makeFailedFuture(EventLoopEngineError.notEventFDDelivery)
        }
        // The channel owns (and closes) its descriptor: give it a duplicate, so the
        // engine's own eventfd stays open for the engine's lifetime as documented.
        let duplicate = dup(engine.completionFD.rawValue)
        guard duplicate >= 0 else {
            return eventLoop.makeFailedFuture(EventLoopEngineError.cannotWatch(reason: "dup: errno \(errno)"))
        }
        let adapter = EventLoopEngine(engine: engine, eventLoop: eventLoop, onCompletion: onCompletion)
        return NIOPipeBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CompletionFDHandler(adapter))
                }
            }
            .takingOwnershipOfDescriptor(input: duplicate)
            .flatMapErrorThrowing { error in
                Glibc.close(duplicate)  // a failed future leaves the descriptor ours
                throw EventLoopEngineError.cannotWatch(reason: "\(error)")
            }
            .map { channel in
                adapter.state.withLock { $0.channel = channel }
                // Completions that arrived before the channel existed: reap (and re-arm) now.
                adapter.drain()
                return adapter
            }
    }

    /// Submits `request`; the future is fulfilled on ``eventLoop`` with its
    /// completion (result: bytes or the custom call's value, or `-errno`; `tag`:
    /// the `tag` given here).
    ///
    /// Any thread. Allocates the promise (only when accepted); takes the table's lock briefly.
    /// - Throws: ``RealtimeIO/SubmitError`` if the engine did not accept the
    ///   request (nothing was queued, no future exists); `.full` also when every
    ///   table cell holds an outstanding future, `.shutDown` after ``close()``.
    public func submit(
        _ request: IORequest, tag: UInt64 = 0, placement: Placement = .leastLoaded
    ) throws(SubmitError) -> EventLoopFuture<IOCompletion> {
        // One lock; the promise is made only for a request that gets a cell (a
        // refusal allocates nothing and hands no failure to the loop).
        let taken: Result<(Int, EventLoopPromise<IOCompletion>), SubmitError> = state.withLock { state in
            guard !state.closed else { return .failure(.shutDown) }
            guard let cell = state.free.popLast() else { return .failure(.full) }
            let promise = eventLoop.makePromise(of: IOCompletion.self)
            state.pending[cell] = (promise, tag)
            return .success((cell, promise))
        }
        let (cell, promise): (Int, EventLoopPromise<IOCompletion>)
        switch taken {
        case .success(let t): (cell, promise) = t
        case .failure(let error): throw error
        }
        do {
            try engine.submit(request, tag: Self.reservedTagBit | UInt64(cell), placement: placement)
        } catch {
            _ = take(cell)
            promise.fail(error)
            throw error
        }
        return promise.futureResult
    }

    /// The channel stopped delivering for a reason other than ``close()`` — an
    /// error from the loop, or the channel closed under the adapter: every
    /// future still outstanding fails with ``EventLoopEngineError/watchLost(reason:)``
    /// (none would ever be fulfilled: nothing reaps any more), later submits
    /// throw `.shutDown`, and the channel is closed. On the loop; once.
    func watchLost(_ reason: String) {
        eventLoop.preconditionInEventLoop()
        let (channel, orphans) = state.withLock { $0.close() }
        for promise in orphans { promise.fail(EventLoopEngineError.watchLost(reason: reason)) }
        channel?.close(promise: nil)
    }

    /// The channel watching the eventfd (tests fire events into its pipeline).
    var watchingChannel: (any Channel)? { state.withLock { $0.channel } }

    /// Stops watching the eventfd: reaps what is ready one last time, closes the
    /// channel (and its duplicate descriptor) and fails every future still
    /// outstanding with ``EventLoopEngineError/closed``. Idempotent; any thread.
    public func close() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            self.drain()
            let (channel, orphans) = self.state.withLock { $0.close() }
            for promise in orphans { promise.fail(EventLoopEngineError.closed) }
            guard let channel else { return self.eventLoop.makeSucceededVoidFuture() }
            return channel.close().recover { _ in }
        }
    }

    // MARK: delivery (on the loop)

    /// Completions delivered per loop turn before the rest is left to a later
    /// task, so a flood of completions cannot starve the loop's other channels.
    static let completionsPerTurn = 1024

    /// Reaps with re-arm until a reap finds nothing (the engine then re-armed the
    /// eventfd and re-checked), or until ``completionsPerTurn`` were delivered;
    /// then schedules itself again, so the re-arm is never skipped.
    func drain() {
        eventLoop.preconditionInEventLoop()
        var delivered = 0
        while delivered < Self.completionsPerTurn {
            let n = engine.reap(maximum: Self.completionsPerTurn - delivered, rearm: true) { completion in
                self.deliver(completion)
            }
            if n == 0 { return }
            delivered += n
        }
        eventLoop.execute { self.drain() }
    }

    private func deliver(_ completion: IOCompletion) {
        guard completion.tag & Self.reservedTagBit != 0 else {
            onCompletion?(completion)
            return
        }
        guard let (promise, tag) = take(Int(truncatingIfNeeded: completion.tag & ~Self.reservedTagBit)) else {
            return  // failed by close() already
        }
        var completion = completion
        completion.tag = tag
        promise.succeed(completion)
    }

    /// Empties a cell and returns what it held.
    private func take(_ cell: Int) -> (promise: EventLoopPromise<IOCompletion>, tag: UInt64)? {
        state.withLock { state in
            guard cell < state.pending.count, let entry = state.pending[cell] else { return nil }
            state.pending[cell] = nil
            state.free.append(cell)
            return entry
        }
    }
}

/// The handler of the channel over the eventfd's duplicate: every read consumed
/// the counter, so it re-opens the engine's notifications, then reaps.
private final class CompletionFDHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let adapter: EventLoopEngine

    init(_ adapter: EventLoopEngine) { self.adapter = adapter }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The channel's read(2) took the counter: the first half of the re-arm is
        // done; this is the second (flag cleared, fenced) before reap re-checks.
        adapter.engine.completionFDWasRead()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        adapter.drain()
    }

    /// A read error (or any error fired into the pipeline): the adapter cannot
    /// know whether it will ever be told of completions again — it fails what
    /// is outstanding rather than leave futures that never complete.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        adapter.watchLost("\(error)")
    }

    /// The channel closed; after ``EventLoopEngine/close()`` this finds the
    /// adapter closed already and does nothing.
    func channelInactive(context: ChannelHandlerContext) {
        adapter.watchLost("the channel over the completion eventfd closed")
        context.fireChannelInactive()
    }
}

/// Why an ``EventLoopEngine`` could not be registered, or a future was failed.
public enum EventLoopEngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The engine runs a completion handler on its workers
    /// (``RealtimeIO/EngineConfiguration/CompletionDelivery/workerHandler(_:)``), so
    /// nothing arrives through the eventfd.
    case notEventFDDelivery
    /// The eventfd could not be duplicated or registered with the loop.
    case cannotWatch(reason: String)
    /// ``EventLoopEngine/close()`` ran before this request's completion was reaped.
    case closed
    /// The loop stopped watching the eventfd on its own (a read error, or the
    /// channel closed under the adapter): nothing reaps any more.
    case watchLost(reason: String)

    /// What went wrong and what to do.
    public var description: String {
        switch self {
        case .notEventFDDelivery:
            return "the engine delivers completions to a worker handler; create it with completionDelivery \"eventfd\" to use EventLoopEngine"
        case .cannotWatch(let reason):
            return "cannot watch the engine's completion eventfd on the event loop (\(reason)); check the process's descriptor limit (ulimit -n)"
        case .closed:
            return "the EventLoopEngine was closed before this request completed; shut the engine down (it completes every request) before closing the adapter"
        case .watchLost(let reason):
            return "the event loop stopped watching the engine's completion eventfd (\(reason)); close() this adapter and register the engine again"
        }
    }
}
