import CRealtimeIOShims
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// How a thread is born: CPU affinity, scheduling and stack, all carried by
/// pthread attributes so the new thread's first instruction already runs with
/// them, whatever the creating thread's own affinity and policy.
public struct ThreadAttributes: Sendable {
    /// CPUs the thread may run on; nil keeps the process's allowed set (not
    /// the creator's: see ``NativeThread/spawn(attributes:_:)``).
    public var cpus: [Int]?
    /// Scheduling; nil inherits the creator's (PTHREAD_INHERIT_SCHED).
    public var scheduling: SchedulingPolicy?
    /// Stack size in bytes; nil = the pthread default.
    public var stackSize: Int?
    /// Thread name, at most 15 bytes (set by the thread itself before its body runs).
    public var name: String?

    public init(cpus: [Int]? = nil, scheduling: SchedulingPolicy? = nil, stackSize: Int? = nil, name: String? = nil) {
        self.cpus = cpus
        self.scheduling = scheduling
        self.stackSize = stackSize
        self.name = name
    }
}

/// A joinable pthread created with explicit attributes.
///
/// Creation allocates (the closure box); it happens at engine start, never on
/// the I/O path.
public final class NativeThread: @unchecked Sendable {
    public let handle: pthread_t

    private init(handle: pthread_t) { self.handle = handle }

    private final class Start {
        let body: () -> Void
        let name: String?
        let nice: Int?
        init(body: @escaping () -> Void, name: String?, nice: Int?) {
            self.body = body
            self.name = name
            self.nice = nice
        }
    }

    /// Creates a thread running `body`.
    ///
    /// - Affinity: `attributes.cpus` goes into the attributes
    ///   (pthread_attr_setaffinity_np).
    /// - Scheduling: with a policy, PTHREAD_EXPLICIT_SCHED plus the policy and
    ///   priority (0 for SCHED_OTHER). A nice value cannot be carried by pthread
    ///   attributes; the thread sets it itself before `body` runs.
    /// - Throws the `Errno` pthread_create reported: EPERM when a real-time
    ///   policy is not permitted, EINVAL for a bad CPU set or stack size,
    ///   EAGAIN when no thread can be created.
    public static func spawn(
        attributes: ThreadAttributes = ThreadAttributes(), _ body: @escaping @Sendable () -> Void
    ) throws(Errno) -> NativeThread {
        var attr = pthread_attr_t()
        var rc = pthread_attr_init(&attr)
        guard rc == 0 else { throw Errno(rawValue: rc) }
        defer { pthread_attr_destroy(&attr) }
        if let stackSize = attributes.stackSize {
            rc = pthread_attr_setstacksize(&attr, max(stackSize, Int(PTHREAD_STACK_MIN)))
            guard rc == 0 else { throw Errno(rawValue: rc) }
        }
        if let cpus = attributes.cpus {
            var set = rtio_cpu_set()
            rtio_cpuset_zero(&set)
            for cpu in cpus { rtio_cpuset_add(&set, Int32(cpu)) }
            rc = rtio_pthread_attr_setaffinity(&attr, &set)
            guard rc == 0 else { throw Errno(rawValue: rc) }
        }
        var nice: Int? = nil
        if let scheduling = attributes.scheduling {
            rc = pthread_attr_setinheritsched(&attr, Int32(PTHREAD_EXPLICIT_SCHED))
            guard rc == 0 else { throw Errno(rawValue: rc) }
            rc = pthread_attr_setschedpolicy(&attr, scheduling.kernelPolicy)
            guard rc == 0 else { throw Errno(rawValue: rc) }
            var param = sched_param()
            param.sched_priority = Int32(scheduling.realtimePriority)
            rc = pthread_attr_setschedparam(&attr, &param)
            guard rc == 0 else { throw Errno(rawValue: rc) }
            if case .other(let n) = scheduling { nice = n }
        }
        let start = Start(body: body, name: attributes.name, nice: nice)
        let context = Unmanaged.passRetained(start).toOpaque()
        var handle = pthread_t()
        rc = pthread_create(&handle, &attr, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            if let name = start.name { _ = rtio_set_thread_name(name) }
            if let nice = start.nice { _ = rtio_set_thread_nice(0, Int32(nice)) }
            start.body()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<Start>.fromOpaque(context).release()
            throw Errno(rawValue: rc)
        }
        return NativeThread(handle: handle)
    }

    /// Waits for the thread to finish.
    public func join() {
        pthread_join(handle, nil)
    }
}
