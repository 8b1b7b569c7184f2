#if canImport(Glibc)
import Glibc
import RealtimeIOLinux
#endif

/// What an engine will start with, decided from its configuration and the
/// process's privileges before anything is created.
///
/// Pure: no thread, no file, no syscall — ``make(_:privileges:)`` is a
/// function of its two arguments, so every privilege outcome can be tested
/// with a hand-made ``PrivilegeReport``. ``IOEngine/init(configuration:workerStartHook:)``
/// then creates resources and workers as the plan says; only what the kernel
/// refuses at that point (a `pthread_create` or `mlockall` that fails although
/// the probe said yes) adds degradations later.
struct StartupPlan: Equatable {
    /// Which workers run requests.
    var mode: EngineMode
    /// The groups that get preallocated workers (none in on-demand mode).
    var groups: [EngineConfiguration.WorkerGroup]
    /// The scheduling each of `groups` is born with (its own, or `other:0` when refused).
    var scheduling: [SchedulingPolicy]
    /// The I/O priority each of `groups` sets at birth (nil: class NONE; also when refused).
    var ioPriorities: [IOPriority?]
    /// `mlockall` flags; 0 = no locking.
    var memoryLockFlags: Int32
    /// What was requested and will not be applied.
    var degradations: [Degradation]

    /// Decides the plan, or throws under `privilegePolicy: required` naming
    /// what is missing and how to grant it.
    static func make(_ configuration: EngineConfiguration, privileges: PrivilegeReport) throws(EngineError) -> StartupPlan {
        let required = configuration.privilegePolicy == .required
        let degradeToOnDemand = configuration.onDemand?.degradeToOnDemand == true
        var scheduling: [SchedulingPolicy] = []
        var ioPriorities: [IOPriority?] = []
        var degradations: [Degradation] = []
        var realtimeRefused: Degradation? = nil

        for group in configuration.groups {
            var ioPriority = group.ioPriority
            if case .realtime = ioPriority {
                let verdict = privileges.canUseRealtimeIOPriority()
                if !verdict.allowed {
                    if required {
                        throw .insufficientPrivilege(
                            what: "I/O priority \(group.ioPriority!) for group '\(group.name)'", reason: verdict.reason,
                            remedy: verdict.remedy ?? "")
                    }
                    degradations.append(Degradation(
                        kind: .ioPriority, group: group.name, requested: "\(group.ioPriority!)",
                        applied: "workers keep the default I/O priority (class none)", reason: verdict.reason,
                        remedy: verdict.remedy))
                    ioPriority = nil
                }
            }
            ioPriorities.append(ioPriority)
            let verdict: PrivilegeVerdict
            switch group.scheduling {
            case .fifo(let p), .rr(let p): verdict = privileges.canUseRealtimePriority(p)
            case .other(let n): verdict = privileges.canSetNice(n)
            case .batch, .idle, .deadline:
                // validate() refuses these for workers; never reached.
                verdict = .denied("\(group.scheduling) is not a worker policy", remedy: "use fifo, rr or other")
            }
            if verdict.allowed {
                scheduling.append(group.scheduling)
                continue
            }
            if required {
                throw .insufficientPrivilege(
                    what: "scheduling \(group.scheduling) for group '\(group.name)'", reason: verdict.reason,
                    remedy: verdict.remedy ?? "")
            }
            scheduling.append(.other(nice: 0))
            if degradeToOnDemand && group.scheduling.isRealtime {
                realtimeRefused = realtimeRefused ?? Degradation(
                    kind: .onDemandMode, group: group.name, requested: "\(group.scheduling)",
                    applied: "started in on-demand mode instead (onDemand.degradeToOnDemand)",
                    reason: verdict.reason, remedy: verdict.remedy)
            } else {
                degradations.append(Degradation(
                    kind: .scheduling, group: group.name, requested: "\(group.scheduling)",
                    applied: "workers run other:0", reason: verdict.reason, remedy: verdict.remedy))
            }
        }

        var groups = configuration.groups
        if let refused = realtimeRefused {
            degradations.append(refused)
            groups = []
            scheduling = []
            ioPriorities = []
        }
        let mode: EngineMode
        if groups.isEmpty {
            mode = .onDemand
        } else if configuration.onDemand?.overflow == true {
            mode = .hybrid
        } else {
            mode = .preallocated
        }

        var lockFlags = ProcessMemory.flags(configuration.memoryLocking)
        if lockFlags != 0 {
            let verdict = privileges.canLockMemory(bytes: nil)
            if !verdict.allowed {
                if required {
                    throw .insufficientPrivilege(
                        what: "memory locking \(configuration.memoryLocking.rawValue)", reason: verdict.reason,
                        remedy: verdict.remedy ?? "")
                }
                degradations.append(Degradation(
                    kind: .memoryLocking, requested: configuration.memoryLocking.rawValue, applied: "memory not locked",
                    reason: verdict.reason, remedy: verdict.remedy))
                lockFlags = 0
            }
        }
        return StartupPlan(
            mode: mode, groups: groups, scheduling: scheduling, ioPriorities: ioPriorities, memoryLockFlags: lockFlags,
            degradations: degradations)
    }
}
