import RealtimeIOLinux

/// The memory an engine commits at start, computed from its configuration
/// with the same byte counts the allocation sites use.
///
/// Pure: a function of the configuration. ``IOEngine/init(configuration:workerStartHook:)``
/// computes it before it allocates anything and refuses a configuration whose
/// footprint exceeds the memory available (``check(available:privileges:configuration:)``),
/// instead of dying in an allocation or being killed while it touches its rings.
///
/// Every heap part is the exact size asked of the allocator
/// (``CacheAlignedStorage/allocatedByteCount(_:)`` of what each type requests),
/// so ``bytes(_:)`` of `.cacheAligned` equals, byte for byte, what the engine's
/// ``CacheAlignedStorage`` instances allocate. Stacks and
/// the status file are pages the kernel maps:
/// - a worker's stack counts its `stackPrefaultBytes` (touched at start), or its
///   whole `stackSize` when `memoryLocking` is `currentAndFuture` (`MCL_FUTURE`
///   without `MCL_ONFAULT` populates and locks each new stack at creation);
/// - an on-demand worker's stack counts only under `currentAndFuture`
///   (256 KiB each, up to `maxThreads`): otherwise its pages come and go with it.
///
/// Not counted: objects of a few dozen bytes per worker (class instances,
/// names), the code, and the Swift runtime.
package struct EngineFootprint: Equatable, Sendable {
    /// One line of the footprint, with the configuration field that scales it.
    package struct Part: Equatable, Sendable {
        /// Where the bytes come from.
        package enum Allocation: Equatable, Sendable {
            /// ``CacheAlignedStorage`` (128-byte aligned heap).
            case cacheAligned
            /// Plain heap (malloc).
            case heap
            /// Pages the kernel maps: thread stacks, the status file.
            case mapped
        }
        /// What it is, e.g. `submission rings`.
        package var name: String
        /// The JSON field that scales it, e.g. `ringCapacity`.
        package var field: String
        /// How it is computed, e.g. `1024 workers × 16 MiB`.
        package var formula: String
        package var bytes: Int
        package var allocation: Allocation
    }

    /// Every part, in allocation order.
    package var parts: [Part]

    /// Total bytes (saturating).
    package var total: Int { parts.reduce(0) { Self.add($0, $1.bytes) } }

    /// Bytes of the parts allocated as `allocation`.
    package func bytes(_ allocation: Part.Allocation) -> Int {
        parts.filter { $0.allocation == allocation }.reduce(0) { Self.add($0, $1.bytes) }
    }

    /// On-demand worker stack size (``OnDemandPool``'s default attributes).
    static let onDemandStackSize = 256 * 1024
    static let pageSize = 4096

    /// The pages one ``WorkerIORing`` maps for `inFlight` requests: the kernel
    /// rounds `inFlight + 1` up to a power of two `E` of SQ entries; the SQ ring
    /// (E × 4 B index array) and the CQ ring (2E × 16 B entries) share one
    /// mapping with their headers, the SQEs (E × 64 B) take another.
    static func ioRingByteCount(inFlight: Int) -> Int {
        var entries = 1
        while entries < inFlight + 1 { entries <<= 1 }
        let rings = CacheLine.roundUp(Self.pageSize / 8 + 2 * entries * 16 + entries * 4, to: Self.pageSize)
        return rings + CacheLine.roundUp(entries * 64, to: Self.pageSize)
    }

    /// The footprint of an engine started from `configuration` (validated).
    package init(_ configuration: EngineConfiguration) {
        let workers = configuration.workerCount
        let slots = configuration.requestsInFlight
        let aligned = CacheAlignedStorage.allocatedByteCount
        let ring = aligned(SubmissionRing.storageByteCount(capacity: configuration.ringCapacity))
        let completion = aligned(CompletionRing.storageByteCount(minimumCapacity: slots))
        let lockFuture = configuration.memoryLocking == .currentAndFuture
        var stacks = 0
        var ioRings = 0
        for group in configuration.groups {
            let perWorker = lockFuture ? group.stackSize : CacheLine.roundUp(group.stackPrefaultBytes, to: Self.pageSize)
            stacks = Self.add(stacks, Self.multiply(group.workers, perWorker))
            if group.inFlight > 1 { ioRings = Self.add(ioRings, Self.multiply(group.workers, Self.ioRingByteCount(inFlight: group.inFlight))) }
        }
        parts = [
            Part(name: "request slots", field: "requestsInFlight",
                 formula: "\(slots) × \(RequestSlab.recordByteStride) B records",
                 bytes: aligned(RequestSlab.storageByteCount(count: slots)), allocation: .cacheAligned),
            Part(name: "request slot links", field: "requestsInFlight", formula: "\(slots) free-list links",
                 bytes: RequestSlab.sideTableByteCount(count: slots), allocation: .heap),
            Part(name: "submission rings", field: "ringCapacity",
                 formula: "\(workers) workers × (\(configuration.ringCapacity) cells × 16 B + 3 lines)",
                 bytes: Self.multiply(workers, ring), allocation: .cacheAligned),
            Part(name: "completion rings", field: "requestsInFlight",
                 formula: "\(workers) workers × (\(CompletionRing.capacity(minimumCapacity: slots)) × \(CompletionRing.cellByteCount) B + 2 lines)",
                 bytes: Self.multiply(workers, completion), allocation: .cacheAligned),
            Part(name: "worker stacks", field: "groups[].stackPrefaultBytes",
                 formula: lockFuture ? "stackSize per worker (locked at creation)" : "stackPrefaultBytes per worker",
                 bytes: stacks, allocation: .mapped),
            Part(name: "worker io_urings", field: "groups[].inFlight",
                 formula: "per worker with inFlight > 1: SQ, CQ (twice the SQ) and SQE arrays, page-rounded",
                 bytes: ioRings, allocation: .mapped),
            Part(name: "status file", field: "groups[].workers",
                 formula: "\(workers) × (128 B record + \(WorkerCounters.byteCount) B counters)",
                 bytes: StatusFileLayout(workerCount: workers).fileSize, allocation: .mapped),
            Part(name: "engine state", field: "groups",
                 formula: "shared lines, cancelled-completion lines, per-worker submitter-read counts, per-group placement, unretained ring tables",
                 bytes: Self.add(
                    Self.add(
                        Self.add(
                            Self.add(
                                aligned(EngineCore.sharedLineCount * CacheLine.separation),
                                aligned(PostedCompletions.storageByteCount)),
                            aligned(max(1, workers) * 8)),
                        aligned(max(1, configuration.groups.count) * 8)),
                    aligned(2 * max(1, workers) * MemoryLayout<UnsafeRawPointer>.stride)),
                 allocation: .cacheAligned),
        ]
        if let onDemand = configuration.onDemand {
            parts.append(Part(
                name: "on-demand queues", field: "requestsInFlight", formula: "2 × \(max(1, slots)) × 4 B",
                bytes: Self.multiply(2 * MemoryLayout<UInt32>.stride, max(1, slots)), allocation: .heap))
            if lockFuture {
                parts.append(Part(
                    name: "on-demand worker stacks", field: "onDemand.maxThreads",
                    formula: "\(onDemand.maxThreads) × 256 KiB (locked at creation)",
                    bytes: Self.multiply(onDemand.maxThreads, Self.onDemandStackSize), allocation: .mapped))
            }
        }
    }

    /// The largest part (what to shrink first).
    package var largest: Part { parts.max { $0.bytes < $1.bytes }! }

    /// `request slots 64.1 KiB (1024 × 64 B records + links), …`.
    package var breakdown: String {
        parts.filter { $0.bytes > 0 }.map { "\($0.name) \(Self.format($0.bytes)) (\($0.formula))" }.joined(separator: ", ")
    }

    /// Refuses the footprint when it exceeds `available` (MemAvailable, or the
    /// memory cgroup's remaining limit if lower), or — under `required`, with
    /// memory locking asked for and no `CAP_IPC_LOCK` — `RLIMIT_MEMLOCK`.
    /// (Under `bestEffort` the start-up plan degrades locking instead.)
    package func check(
        available: MemoryAvailability, privileges: PrivilegeReport, configuration: EngineConfiguration
    ) throws(EngineError) {
        let total = self.total
        let others = ["ringCapacity", "requestsInFlight", "groups[].workers"].filter { $0 != largest.field }
        let shrink = "lower \(largest.field) (\(largest.name): \(Self.format(largest.bytes))), or \(others.joined(separator: ", "))"
        if let (limit, source) = available.limit, total > limit {
            throw .configuration(ConfigurationError(
                field: largest.field,
                problem: "the engine needs \(total) bytes (\(Self.format(total))) but only \(limit) bytes (\(Self.format(limit))) are available (\(source)); footprint: \(breakdown)",
                remedy: "\(shrink) until the footprint fits"))
        }
        if configuration.memoryLocking != .none, configuration.privilegePolicy == .required, !privileges.ipcLock.effective,
           case .limited(let soft) = privileges.memlock.soft, UInt64(total) > soft {
            throw .insufficientPrivilege(
                what: "memory locking \(configuration.memoryLocking.rawValue) of the engine's \(total) bytes (\(Self.format(total)))",
                reason: "the footprint (\(total) bytes) exceeds RLIMIT_MEMLOCK (soft \(soft) bytes, hard \(privileges.memlock.hard)) and CAP_IPC_LOCK is \(privileges.ipcLock.summary); footprint: \(breakdown)",
                remedy: "\(PrivilegeReport.memlockRemedy); or \(shrink)")
        }
    }

    /// `20.0 GiB`, `64.0 KiB`, `512 B`.
    static func format(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let tenths = (value * 10).rounded() / 10
        return "\(tenths) \(units[unit])"
    }

    static func add(_ a: Int, _ b: Int) -> Int {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? .max : r
    }

    static func multiply(_ a: Int, _ b: Int) -> Int {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? .max : r
    }
}
