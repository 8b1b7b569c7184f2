import CRealtimeIOShims
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A joinable pthread created with explicit ``ThreadAttributes``.
///
/// Creation allocates (the closure box); it happens at engine start, never on
/// the I/O path.
package final class NativeThread: @unchecked Sendable {
    package let handle: pthread_t

    private init(handle: pthread_t) { self.handle = handle }

    /// What the new thread does before `body`: the parts of its attributes that
    /// pthread attributes cannot carry.
    private final class Start {
        let body: (BirthErrors) -> Void
        let name: String?
        let nice: Int?
        /// SCHED_BATCH, SCHED_IDLE or SCHED_DEADLINE, applied with sched_setattr.
        let policy: SchedulingPolicy?
        init(body: @escaping (BirthErrors) -> Void, name: String?, nice: Int?, policy: SchedulingPolicy?) {
            self.body = body
            self.name = name
            self.nice = nice
            self.policy = policy
        }
    }

    /// What a new thread failed to apply to itself before its body ran (nil: applied, or not asked).
    package struct BirthErrors: Sendable, Equatable {
        /// `setpriority(2)` of the nice value (EACCES/EPERM without CAP_SYS_NICE or RLIMIT_NICE).
        package var nice: Errno?
        /// `sched_setattr(2)` of SCHED_BATCH, SCHED_IDLE or SCHED_DEADLINE.
        package var policy: Errno?
        package init(nice: Errno? = nil, policy: Errno? = nil) {
            self.nice = nice
            self.policy = policy
        }
    }

    /// Creates a thread running `body`.
    package static func spawn(
        attributes: ThreadAttributes = ThreadAttributes(), _ body: @escaping @Sendable () -> Void
    ) throws(Errno) -> NativeThread {
        try spawn(attributes: attributes, reportingBirth: { _ in body() })
    }

    /// Creates a thread running `body`, which receives what the thread could
    /// not apply to itself (its nice value or a later policy).
    ///
    /// - Affinity: `attributes.cpus` goes into the attributes
    ///   (pthread_attr_setaffinity_np).
    /// - Scheduling: for SCHED_FIFO/SCHED_RR, PTHREAD_EXPLICIT_SCHED plus the policy and
    ///   priority, so the thread is born with them. Otherwise the thread is born
    ///   SCHED_OTHER (explicitly, not inherited) and, before `body` runs, sets its
    ///   nice value itself (pthread attributes cannot carry one) or switches to
    ///   SCHED_BATCH/SCHED_IDLE/SCHED_DEADLINE with sched_setattr; a refusal there
    ///   leaves it SCHED_OTHER, visible to ``ThreadScheduling/read(tid:)`` and
    ///   reported to `body` as ``BirthErrors``.
    /// - Throws the `Errno` pthread_create reported: EPERM when a real-time
    ///   policy is not permitted, EINVAL for a bad CPU set or stack size,
    ///   EAGAIN when no thread can be created.
    package static func spawn(
        attributes: ThreadAttributes, reportingBirth body: @escaping @Sendable (BirthErrors) -> Void
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
        var laterPolicy: SchedulingPolicy? = nil
        if let scheduling = attributes.scheduling {
            // glibc's pthread_attr_setschedpolicy knows only OTHER, FIFO and RR.
            let bornWith: SchedulingPolicy
            switch scheduling {
            case .fifo, .rr: bornWith = scheduling
            case .other(let n): bornWith = .other(nice: 0); nice = n
            case .batch, .idle, .deadline: bornWith = .other(nice: 0); laterPolicy = scheduling
            }
            rc = pthread_attr_setinheritsched(&attr, Int32(PTHREAD_EXPLICIT_SCHED))
            guard rc == 0 else { throw Errno(rawValue: rc) }
            rc = pthread_attr_setschedpolicy(&attr, bornWith.kernelPolicy)
            guard rc == 0 else { throw Errno(rawValue: rc) }
            var param = sched_param()
            param.sched_priority = Int32(bornWith.realtimePriority)
            rc = pthread_attr_setschedparam(&attr, &param)
            guard rc == 0 else { throw Errno(rawValue: rc) }
        }
        let start = Start(body: body, name: attributes.name, nice: nice, policy: laterPolicy)
        let context = Unmanaged.passRetained(start).toOpaque()
        var handle = pthread_t()
        rc = pthread_create(&handle, &attr, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            if let name = start.name { _ = rtio_set_thread_name(name) }
            var errors = BirthErrors()
            if let nice = start.nice {
                let rc = rtio_set_thread_nice(0, Int32(nice))
                if rc != 0 { errors.nice = Errno(rawValue: -rc) }
            }
            if let policy = start.policy {
                do throws(Errno) { try ThreadScheduling.apply(policy, tid: 0) } catch { errors.policy = error }
            }
            start.body(errors)
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<Start>.fromOpaque(context).release()
            throw Errno(rawValue: rc)
        }
        // Named by the creator too, before spawn returns: a thread that has not run yet
        // still carries its creator's name, and whoever lists threads right after spawn
        // (rtio-admin, the tests) must see this one. The thread names itself as well,
        // first thing, in case this races its exit (ESRCH, ignored).
        if let name = attributes.name { _ = rtio_set_thread_name_of(handle, name) }
        return NativeThread(handle: handle)
    }

    /// Waits for the thread to finish.
    package func join() {
        pthread_join(handle, nil)
    }
}
