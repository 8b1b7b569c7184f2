import SystemPackage

/// Why an ``IOEngine`` could not start.
public enum EngineError: Error, CustomStringConvertible, Sendable {
    /// A configuration field is invalid.
    case configuration(ConfigurationError)
    /// With `.required`: something requested needs a privilege this process lacks.
    case insufficientPrivilege(what: String, reason: String, remedy: String)
    /// pthread_create failed for a worker.
    case threadCreation(worker: String, Errno)
    /// eventfd(2) failed.
    case eventFD(Errno)
    /// A worker did not start within 10 s.
    case workerStartTimeout(worker: String)

    public var description: String {
        switch self {
        case .configuration(let e):
            return e.description
        case .insufficientPrivilege(let what, let reason, let remedy):
            return "cannot apply \(what): \(reason); remedy: \(remedy) (or use privilegePolicy \"bestEffort\" to start without it)"
        case .threadCreation(let worker, let errno):
            return "cannot create worker \(worker): pthread_create: \(errno) (\(errno.rawValue)); check RLIMIT_NPROC, memory and CPU sets"
        case .eventFD(let errno):
            return "cannot create the completion eventfd: \(errno); check RLIMIT_NOFILE"
        case .workerStartTimeout(let worker):
            return "worker \(worker) did not start within 10 s; a real-time thread may be starving it (check sched_rt_runtime_us and CPU hogs)"
        }
    }
}
