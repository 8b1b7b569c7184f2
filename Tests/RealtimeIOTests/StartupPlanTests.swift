import Testing
@testable import RealtimeIO

/// The startup plan is a pure function of the configuration and a privilege
/// report: every outcome is checked here with hand-made reports, no threads.
@Suite("Engine: startup plan")
struct StartupPlanTests {
    /// A process with no capability and zero limits (an unprivileged user).
    static let unprivileged = PrivilegeReport(
        realUID: 1000, effectiveUID: 1000,
        sysNice: CapabilityState(effective: false, permitted: false),
        ipcLock: CapabilityState(effective: false, permitted: false),
        rtprio: ResourceLimit(soft: .limited(0), hard: .limited(0)),
        nice: ResourceLimit(soft: .limited(0), hard: .limited(0)),
        memlock: ResourceLimit(soft: .limited(65536), hard: .limited(65536)),
        schedRTRuntimeMicroseconds: 950_000, schedRTPeriodMicroseconds: 1_000_000)

    /// CAP_SYS_NICE and CAP_IPC_LOCK effective.
    static let privileged: PrivilegeReport = {
        var r = unprivileged
        r.sysNice = CapabilityState(effective: true, permitted: true)
        r.ipcLock = CapabilityState(effective: true, permitted: true)
        return r
    }()

    static func configuration(
        _ scheduling: SchedulingPolicy = .fifo(priority: 40), policy: EngineConfiguration.PrivilegePolicy = .bestEffort,
        locking: EngineConfiguration.MemoryLocking = .none, onDemand: EngineConfiguration.OnDemand? = nil
    ) -> EngineConfiguration {
        EngineConfiguration(
            groups: [.init(name: "rt", workers: 2, scheduling: scheduling), .init(name: "bg", workers: 1, scheduling: .other(nice: 5))],
            memoryLocking: locking, privilegePolicy: policy, onDemand: onDemand)
    }

    @Test("privileged: everything as requested, no degradation")
    func privileged() throws {
        let plan = try StartupPlan.make(Self.configuration(locking: .currentAndFuture), privileges: Self.privileged)
        #expect(plan.mode == .preallocated)
        #expect(plan.scheduling == [.fifo(priority: 40), .other(nice: 5)])
        #expect(plan.memoryLockFlags != 0)
        #expect(plan.degradations.isEmpty)
    }

    @Test("bestEffort without privileges: other:0 and no locking, each reported with kind, group, requested and applied")
    func bestEffort() throws {
        let plan = try StartupPlan.make(Self.configuration(locking: .currentAndFuture), privileges: Self.unprivileged)
        #expect(plan.mode == .preallocated)
        #expect(plan.scheduling == [.other(nice: 0), .other(nice: 5)])
        #expect(plan.memoryLockFlags == 0)
        #expect(plan.degradations.count == 2)
        let scheduling = try #require(plan.degradations.first { $0.kind == .scheduling })
        #expect(scheduling.group == "rt" && scheduling.requested == "fifo:40" && scheduling.remedy != nil)
        #expect(scheduling.description.contains("fifo:40 not applied"))
        let locking = try #require(plan.degradations.first { $0.kind == .memoryLocking })
        #expect(locking.requested == "currentAndFuture")
        #expect(locking.reason.contains("CAP_IPC_LOCK"))
    }

    @Test("required without privileges: throws naming what and the remedy", arguments: [
        (SchedulingPolicy.fifo(priority: 40), EngineConfiguration.MemoryLocking.none, "scheduling fifo:40"),
        (SchedulingPolicy.other(nice: -5), EngineConfiguration.MemoryLocking.none, "scheduling other:-5"),
        (SchedulingPolicy.other(nice: 0), EngineConfiguration.MemoryLocking.current, "memory locking current"),
    ])
    func required(scheduling: SchedulingPolicy, locking: EngineConfiguration.MemoryLocking, what: String) {
        do throws(EngineError) {
            _ = try StartupPlan.make(Self.configuration(scheduling, policy: .required, locking: locking), privileges: Self.unprivileged)
            Issue.record("should have thrown")
        } catch {
            guard case .insufficientPrivilege(let w, _, let remedy) = error else { Issue.record("\(error)"); return }
            #expect(w.hasPrefix(what), "\(w)")
            #expect(remedy.contains("setcap"))
        }
    }

    @Test("RLIMIT_RTPRIO alone allows a priority up to the limit")
    func rlimit() throws {
        var report = Self.unprivileged
        report.rtprio = ResourceLimit(soft: .limited(40), hard: .limited(40))
        #expect(try StartupPlan.make(Self.configuration(.fifo(priority: 40)), privileges: report).degradations.isEmpty)
        #expect(try StartupPlan.make(Self.configuration(.fifo(priority: 41)), privileges: report).degradations.count == 1)
    }

    @Test("degradeToOnDemand: refused real-time starts in on-demand mode, reported once")
    func degradeToOnDemand() throws {
        let c = Self.configuration(onDemand: .init(degradeToOnDemand: true))
        let plan = try StartupPlan.make(c, privileges: Self.unprivileged)
        #expect(plan.mode == .onDemand)
        #expect(plan.groups.isEmpty && plan.scheduling.isEmpty)
        #expect(plan.degradations.map(\.kind) == [.onDemandMode])
        #expect(plan.degradations[0].description.contains("on-demand mode"))
        // With the privilege the groups stay.
        #expect(try StartupPlan.make(c, privileges: Self.privileged).mode == .preallocated)
    }

    @Test("modes: overflow makes hybrid; no groups is on-demand")
    func modes() throws {
        #expect(try StartupPlan.make(Self.configuration(onDemand: .init(overflow: true)), privileges: Self.privileged).mode == .hybrid)
        var c = Self.configuration(onDemand: .init())
        c.groups = []
        #expect(try StartupPlan.make(c, privileges: Self.privileged).mode == .onDemand)
    }
}

extension StartupPlanTests {
    @Test("a real-time I/O priority needs CAP_SYS_NICE; best effort and idle need nothing")
    func ioPriority() throws {
        var c = Self.configuration(.other(nice: 0))
        c.groups[0].ioPriority = .realtime(level: 1)
        c.groups[1].ioPriority = .idle
        let privileged = try StartupPlan.make(c, privileges: Self.privileged)
        #expect(privileged.ioPriorities == [.realtime(level: 1), .idle])
        let best = try StartupPlan.make(c, privileges: Self.unprivileged)
        #expect(best.ioPriorities == [nil, .idle])
        #expect(best.degradations.map(\.kind) == [.ioPriority])
        #expect(best.degradations[0].requested == "rt:1")
        c.privilegePolicy = .required
        #expect(throws: EngineError.self) { _ = try StartupPlan.make(c, privileges: Self.unprivileged) }
    }
}
