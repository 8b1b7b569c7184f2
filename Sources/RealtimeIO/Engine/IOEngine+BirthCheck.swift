import RealtimeIOLinux

extension IOEngine {
    /// Applied means read back: compares what each worker's thread read from
    /// the kernel right after birth (``Worker`` `birthScheduling`/`birthCPUs`,
    /// published by `started`) with what it was born to have.
    ///
    /// A pthread attribute or a `setpriority` the kernel refused — or a CPU list
    /// the cpuset narrowed — shows here even when the privilege probe said yes
    /// (capabilities held only inside a user namespace, a cpuset smaller than
    /// the request). Under `required` the first mismatch throws; under
    /// `bestEffort` each one becomes a ``Degradation`` whose `applied` is the
    /// value read, and earlier per-worker scheduling degradations get the
    /// read value as their `applied` too.
    ///
    /// Call only after every worker has started.
    static func checkBirth(
        _ workers: [Worker], groups: [EngineConfiguration.WorkerGroup], policy: EngineConfiguration.PrivilegePolicy,
        degradations: inout [Degradation]
    ) throws(EngineError) {
        for worker in workers {
            let group = groups[worker.groupIndex]
            let applied = worker.birthScheduling
            let appliedText = applied.map { "\($0)" } ?? "unreadable (sched_getattr failed)"
            if let expected = worker.bornWith.scheduling {
                for i in degradations.indices where degradations[i].kind == .scheduling && degradations[i].worker == worker.name {
                    degradations[i].applied = appliedText
                }
                if applied != expected {
                    var reason = "the kernel reports \(appliedText) for the thread after start"
                    if let e = worker.birthErrors.nice, let nice = expected.nice {
                        reason += " (setpriority(nice \(nice)): \(e))"
                    } else if let e = worker.birthErrors.policy {
                        reason += " (sched_setattr: \(e))"
                    }
                    reason += "; capabilities held only in a user namespace do not count for scheduling"
                    let remedy = expected.isRealtime ? PrivilegeReport.realtimeRemedy : PrivilegeReport.niceRemedy
                    if policy == .required {
                        throw .insufficientPrivilege(what: "scheduling \(expected) for \(worker.name)", reason: reason, remedy: remedy)
                    }
                    degradations.append(Degradation(
                        kind: .scheduling, group: group.name, worker: worker.name, requested: "\(expected)",
                        applied: appliedText, reason: reason, remedy: remedy))
                }
            }
            if let cpus = worker.bornWith.cpus {
                let expected = try? CPUList(cpus)
                let appliedCPUs = worker.birthCPUs
                if appliedCPUs != expected {
                    let requested = expected.map { "\($0)" } ?? "\(cpus)"
                    let text = appliedCPUs.map { "\($0)" } ?? "unreadable (sched_getaffinity failed)"
                    let reason = "the kernel reports CPUs \(text) for the thread after start: the cpuset (or an affinity change) narrowed the request"
                    if policy == .required {
                        throw .configuration(ConfigurationError(
                            field: "groups[\(worker.groupIndex)].cpus",
                            problem: "\(worker.name) asked for CPUs \(requested); \(reason)",
                            remedy: "ask only for CPUs the process may use (sched_getaffinity, the cpuset's cpuset.cpus.effective)"))
                    }
                    degradations.append(Degradation(
                        kind: .cpus, group: group.name, worker: worker.name, requested: requested, applied: text,
                        reason: reason))
                }
            }
            // The worker's own io_uring (inFlight > 1), set up on its thread.
            if let e = worker.ioRingError {
                let requested = "\(worker.requestedInFlight)"
                let reason = "io_uring for \(worker.name): \(e)" + (e == .notSupported
                    ? " (the kernel lacks an opcode the worker uses; IORING_OP_FUTEX_WAIT needs Linux 6.7)"
                    : e == .permissionDenied || e == .notPermitted
                        ? " (kernel.io_uring_disabled, a seccomp filter or a container refuses io_uring)" : "")
                let remedy = "allow io_uring (sysctl kernel.io_uring_disabled=0, the container's seccomp profile) on Linux 6.7 or later, or set inFlight to 1"
                if policy == .required {
                    throw .insufficientPrivilege(what: "\(requested) requests in flight for \(worker.name)", reason: reason, remedy: remedy)
                }
                degradations.append(Degradation(
                    kind: .inFlight, group: group.name, worker: worker.name, requested: requested,
                    applied: "one request at a time (blocking syscalls on the worker)", reason: reason, remedy: remedy))
            }
            // The I/O priority the worker set on itself (class NONE when none was asked).
            let readIO = worker.birthIOPriority
            if readIO == nil || readIO! != worker.ioPriority {
                let requested = worker.ioPriority.map { "\($0)" } ?? "none"
                let text = readIO.map { $0.map { "\($0)" } ?? "none" } ?? "unreadable (ioprio_get failed)"
                var reason = "the kernel reports I/O priority \(text) for the thread after start"
                if let e = worker.ioPriorityError { reason += " (ioprio_set: \(e))" }
                if policy == .required {
                    throw .insufficientPrivilege(
                        what: "I/O priority \(requested) for \(worker.name)", reason: reason,
                        remedy: "grant CAP_SYS_NICE for the real-time class (setcap cap_sys_nice+ep BINARY), or ask for bestEffort")
                }
                degradations.append(Degradation(
                    kind: .ioPriority, group: group.name, worker: worker.name, requested: requested, applied: text,
                    reason: reason))
            }
        }
    }
}
