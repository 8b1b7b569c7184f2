import RealtimeIOLinux

extension EngineConfiguration {
    /// Checks every field against ``Limits`` and this machine; throws naming the
    /// first bad field by its JSON path.
    ///
    /// CPU lists must stay within the process's allowed CPUs: its cpuset
    /// cgroup's effective CPUs ∩ the online CPUs (the online CPUs when no
    /// cpuset is readable). A CPU outside them is refused here, naming the
    /// cpuset file and the allowed list.
    ///
    /// - Parameter onlineCPUs: the process's allowed CPUs to check CPU lists
    ///   against (as if no cpuset applied); nil reads the cpuset and
    ///   `/sys/devices/system/cpu/online`.
    public func validate(onlineCPUs: CPUList? = nil) throws(ConfigurationError) {
        let cpus: ProcessCPUs
        if let onlineCPUs { cpus = ProcessCPUs(online: onlineCPUs) } else {
            do { cpus = try ProcessCPUs.current() } catch {
                throw ConfigurationError(field: "cpus", problem: "cannot read online CPUs: \(error)", remedy: "check /sys/devices/system/cpu/online")
            }
        }
        try validate(processCPUs: cpus)
    }

    /// ``validate(onlineCPUs:)`` against a given set of allowed CPUs (and the
    /// cpuset it came from).
    package func validate(processCPUs cpus: ProcessCPUs) throws(ConfigurationError) {
        // No groups is on-demand mode, and only that.
        guard !groups.isEmpty || onDemand != nil else {
            throw ConfigurationError(
                field: "groups", problem: "no worker groups",
                remedy: "add at least one group with workers >= 1, or set \"onDemand\" for on-demand mode")
        }
        if let onDemand {
            try onDemand.validate()
            guard !onDemand.degradeToOnDemand || privilegePolicy == .bestEffort else {
                throw ConfigurationError(
                    field: "onDemand.degradeToOnDemand", problem: "needs privilegePolicy bestEffort",
                    remedy: "use \"privilegePolicy\":\"bestEffort\", or drop degradeToOnDemand (\"required\" throws instead)")
            }
        }
        var names = Set<String>()
        for (i, g) in groups.enumerated() {
            try g.validate(field: "groups[\(i)]", cpus: cpus)
            guard names.insert(g.name).inserted else {
                throw ConfigurationError(field: "groups[\(i)].name", problem: "duplicate group name '\(g.name)'", remedy: "give each group its own name")
            }
        }
        try Self.checkRingCapacity(ringCapacity)
        try Self.checkRequestsInFlight(requestsInFlight)
        guard Limits.realtimeSharePercent.contains(realtimeSharePercent) else {
            throw ConfigurationError(
                field: "realtimeSharePercent", problem: "\(realtimeSharePercent)",
                remedy: "use 1...100 (100: no limit on real-time running)")
        }
        guard Limits.spinBudget.contains(spinBudget) else {
            throw ConfigurationError(
                field: "spinBudgetNanoseconds", problem: "\(spinBudget.nanoseconds)",
                remedy: "use 0...1000000000 (1 s); spinning longer only burns the CPU")
        }
        guard Limits.realtimeShareRestSlice.contains(realtimeShareRestSlice) else {
            throw ConfigurationError(
                field: "realtimeShareRestSliceNanoseconds", problem: "\(realtimeShareRestSlice.nanoseconds)",
                remedy: "use 10000...1000000 (10 µs to 1 ms); 10000 is the default")
        }
    }

    /// The ring's own bound (also checked by `SubmissionRing.init`).
    static func checkRingCapacity(_ capacity: Int) throws(ConfigurationError) {
        guard Limits.ringCapacity.contains(capacity), capacity & (capacity - 1) == 0 else {
            throw ConfigurationError(
                field: "ringCapacity", problem: "\(capacity) is not a power of two in 2...\(Limits.ringCapacity.upperBound)",
                remedy: "use e.g. 64, 256 or 1024")
        }
    }

    /// The slab's own bound (also checked by `RequestSlab.init`).
    static func checkRequestsInFlight(_ count: Int) throws(ConfigurationError) {
        guard Limits.requestsInFlight.contains(count) else {
            throw ConfigurationError(
                field: "requestsInFlight", problem: "\(count)",
                remedy: "use 1...\(Limits.requestsInFlight.upperBound) request slots")
        }
    }
}

extension EngineConfiguration.WorkerGroup {
    func validate(field: String, cpus allowed: ProcessCPUs) throws(ConfigurationError) {
        typealias Limits = EngineConfiguration.Limits
        guard Limits.workersPerGroup.contains(workers) else {
            throw ConfigurationError(
                field: "\(field).workers", problem: "\(workers) workers",
                remedy: "use \(Limits.workersPerGroup.lowerBound)...\(Limits.workersPerGroup.upperBound) workers per group")
        }
        guard Limits.inFlightPerWorker.contains(inFlight) else {
            throw ConfigurationError(
                field: "\(field).inFlight", problem: "\(inFlight) requests in flight per worker",
                remedy: "use 1 (one blocking request at a time) or up to \(Limits.inFlightPerWorker.upperBound) (the worker's own io_uring)")
        }
        let maxName = EngineConfiguration.maximumGroupNameLength(workers: workers)
        guard !name.isEmpty, name.utf8.count <= maxName,
              name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: "/") }) else {
            throw ConfigurationError(
                field: "\(field).name", problem: "group name '\(name)' is empty, too long or has spaces/slashes",
                remedy: "use 1...\(maxName) printable characters so 'rtio-\(name)-\(workers - 1)' fits the 15-byte thread name")
        }
        do { try scheduling.validate() } catch {
            throw ConfigurationError(field: "\(field).scheduling", problem: error.description, remedy: "use {\"fifo\": 1...99}, {\"rr\": 1...99} or {\"other\": -20...19}")
        }
        if let cpus { try Self.check(cpus, allowed: allowed, field: "\(field).cpus") }
        if let workerCPUs {
            guard workerCPUs.count == workers else {
                throw ConfigurationError(
                    field: "\(field).workerCPUs", problem: "\(workerCPUs.count) CPU lists for \(workers) workers",
                    remedy: "give exactly one CPU list per worker")
            }
            for (w, cpus) in workerCPUs.enumerated() { try Self.check(cpus, allowed: allowed, field: "\(field).workerCPUs[\(w)]") }
        }
        if let ioPriority {
            do { try ioPriority.validate() } catch {
                throw ConfigurationError(
                    field: "\(field).ioPriority", problem: error.description,
                    remedy: "use {\"realtime\": 0...7}, {\"bestEffort\": 0...7} or {\"idle\": 0} (0 is the highest level)")
            }
        }
        guard Limits.stackSize.contains(stackSize) else {
            throw ConfigurationError(field: "\(field).stackSize", problem: "\(stackSize) bytes", remedy: "use 64 KiB...1 GiB")
        }
        guard stackPrefaultBytes >= 0, stackPrefaultBytes <= stackSize - 16 * 1024 else {
            throw ConfigurationError(
                field: "\(field).stackPrefaultBytes", problem: "\(stackPrefaultBytes) bytes with a \(stackSize)-byte stack",
                remedy: "use 0...stackSize - 16 KiB")
        }
    }

    private static func check(_ cpus: CPUList, allowed: ProcessCPUs, field: String) throws(ConfigurationError) {
        guard !cpus.isEmpty else {
            throw ConfigurationError(field: field, problem: "empty CPU list", remedy: "list at least one allowed CPU (allowed: \(allowed.allowed))")
        }
        let offline = cpus.subtracting(allowed.online)
        guard offline.isEmpty else {
            throw ConfigurationError(
                field: field, problem: "CPU(s) \(offline) not online",
                remedy: "use online CPUs only (online: \(allowed.online); allowed for this process: \(allowed.allowed))")
        }
        guard cpus.isSubset(of: allowed.allowed) else {
            let outside = cpus.subtracting(allowed.allowed)
            guard let file = allowed.cpusetFile else {
                throw ConfigurationError(
                    field: field, problem: "CPU(s) \(outside) not allowed for this process (allowed: \(allowed.allowed))",
                    remedy: "use CPUs from \(allowed.allowed)")
            }
            throw ConfigurationError(
                field: field,
                problem: "CPU(s) \(outside) outside this process's cpuset \(file) (allowed: \(allowed.allowed))",
                remedy: "use CPUs from \(allowed.allowed), or widen the cgroup's cpuset (its cpuset.cpus; systemd AllowedCPUs=, docker --cpuset-cpus)")
        }
    }
}
