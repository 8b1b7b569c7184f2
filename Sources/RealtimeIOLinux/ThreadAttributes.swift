/// How a thread is born: CPU affinity, scheduling, stack and name, so that the
/// new thread's first instruction already runs with them, whatever the creating
/// thread's own affinity and policy.
package struct ThreadAttributes: Sendable {
    /// CPUs the thread may run on; nil inherits the creator's mask. Threads
    /// nobody placed should get ``ProcessCPUs/unpinned`` explicitly: the
    /// creator may be pinned anywhere.
    package var cpus: [Int]?
    /// Scheduling; nil inherits the creator's (PTHREAD_INHERIT_SCHED).
    package var scheduling: SchedulingPolicy?
    /// Stack size in bytes; nil = the pthread default.
    package var stackSize: Int?
    /// Thread name, at most 15 bytes (set by the thread itself before its body runs).
    package var name: String?

    package init(cpus: [Int]? = nil, scheduling: SchedulingPolicy? = nil, stackSize: Int? = nil, name: String? = nil) {
        self.cpus = cpus
        self.scheduling = scheduling
        self.stackSize = stackSize
        self.name = name
    }
}
