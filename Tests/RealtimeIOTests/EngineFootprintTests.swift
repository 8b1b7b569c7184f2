import CMallocCounter
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Testing

@Suite("Engine: memory footprint", .serialized)
struct EngineFootprintTests {
    /// 4 × 1024 workers × 2^20-cell rings and 2^20 slots: validates, needs ~80 GiB.
    static let huge = EngineConfiguration(
        groups: (0..<4).map { .init(name: "f\($0)", workers: 1024) }, ringCapacity: 1 << 20, requestsInFlight: 1 << 20,
        spinBudget: .zero)

    @Test("a configuration larger than the machine fails before allocating, naming the footprint and the limit",
          .tags(.allocationCounting))
    func refusedUpFront() throws {
        try Self.huge.validate()
        let footprint = EngineFootprint(Self.huge)
        let available = try #require(MemoryAvailability.current().limit, "no MemAvailable in /proc/meminfo")
        try #require(footprint.total > available.bytes, "this machine has \(available.bytes) bytes available")
        let before = rtio_malloc_counter_thread_bytes()
        var message = ""
        do {
            let engine = try IOEngine(configuration: Self.huge)
            engine.shutdown()
            Issue.record("an \(footprint.total)-byte engine started")
        } catch {
            guard case .configuration(let e) = error else { Issue.record("\(error)"); return }
            message = e.description
        }
        let allocated = rtio_malloc_counter_thread_bytes() - before
        #expect(allocated < 1 << 20, "the failed start allocated \(allocated) bytes")
        #expect(message.contains("needs \(footprint.total) bytes"), "\(message)")
        // The figure the engine read itself: MemAvailable moves between two reads (other
        // processes allocate), so it is compared within 1 % of ours, not to the byte.
        let named = message.split(separator: "only ").dropFirst().first?.split(separator: " ").first.flatMap { UInt64($0) }
        #expect(named.map { Double($0) >= Double(available.bytes) * 0.99 && Double($0) <= Double(available.bytes) * 1.01 } == true,
                "named \(String(describing: named)), read \(available.bytes): \(message)")
        #expect(message.contains("MemAvailable") || message.contains("cgroup"), "\(message)")
        #expect(message.contains("submission rings 64.0 GiB"), "\(message)")
        // The largest part is named first: 32-byte completion cells (slot, result, tag).
        #expect(message.contains("completion rings 128.0 GiB"), "\(message)")
        #expect(message.contains("lower requestsInFlight (completion rings: 128.0 GiB)"), "\(message)")
    }

    @Test("the check names the lower of MemAvailable and the cgroup's remaining limit")
    func limits() throws {
        let footprint = EngineFootprint(testConfiguration(workers: 2, ring: 1 << 16, slots: 4096))
        let privileges = PrivilegeReport.current()
        let config = testConfiguration(workers: 2, ring: 1 << 16, slots: 4096)
        #expect(throws: Never.self) {
            try footprint.check(available: .init(memAvailable: footprint.total), privileges: privileges, configuration: config)
        }
        #expect {
            try footprint.check(available: .init(memAvailable: footprint.total - 1), privileges: privileges, configuration: config)
        } throws: { "\($0)".contains("MemAvailable") && "\($0)".contains("needs \(footprint.total) bytes") }
        #expect {
            try footprint.check(
                available: .init(memAvailable: 1 << 40, cgroupRemaining: 1 << 20, cgroupLimitPath: "/sys/fs/cgroup/x/memory.max"),
                privileges: privileges, configuration: config)
        } throws: { "\($0)".contains("/sys/fs/cgroup/x/memory.max") && "\($0)".contains("only \(1 << 20) bytes") }
        #expect(MemoryAvailability.memAvailable(meminfo: "MemTotal: 10 kB\nMemAvailable:    2048 kB\n") == 2 * 1024 * 1024)
    }

    /// The cache-aligned part of the footprint is, byte for byte, what the engine's
    /// CacheAlignedStorage instances ask the allocator for (128-byte-aligned
    /// allocations of the creating thread); the plain heap part is within the
    /// engine's small objects of the rest; the status file is its part.
    @Test("the footprint is what the engine allocates", .tags(.allocationCounting))
    func matchesAllocations() throws {
        for config in [testConfiguration(workers: 3, ring: 1 << 12, slots: 4096), testConfiguration(workers: 5, ring: 1 << 15, slots: 3 * 4096)] {
            let footprint = EngineFootprint(config)
            let aligned = rtio_malloc_counter_thread_aligned_bytes()
            let all = rtio_malloc_counter_thread_bytes()
            let engine = try IOEngine(configuration: config)
            let alignedBytes = Int(rtio_malloc_counter_thread_aligned_bytes() - aligned)
            let allBytes = Int(rtio_malloc_counter_thread_bytes() - all)
            defer { engine.shutdown() }
            #expect(alignedBytes == footprint.bytes(.cacheAligned), "\(footprint.breakdown)")
            let heap = footprint.bytes(.cacheAligned) + footprint.bytes(.heap)
            #expect(allBytes >= heap && allBytes - heap < 256 * 1024, "allocated \(allBytes), footprint heap \(heap)")
            let path = try #require(engine.statusFilePath)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            #expect(size == footprint.parts.first { $0.name == "status file" }?.bytes)
        }
    }

    /// A child without CAP_IPC_LOCK, RLIMIT_MEMLOCK 64 KiB, memory locking under `required`.
    @Test("RLIMIT_MEMLOCK below the footprint: refused naming both", .tags(.needsRoot))
    func memlockRefused() throws {
        let host = builtProduct("rtio-testhost")
        let (_, out) = try runProcess("/usr/sbin/capsh", [
            "--drop=cap_ipc_lock", "--", "-c",
            "ulimit -l 64; exec \(host) --policy required --other 0 --lock currentAndFuture --workers 2",
        ])
        let r = try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [String: Any]
        #expect(r["started"] as? Bool == false, "\(out)")
        let message = r["error"] as? String ?? ""
        let footprint = EngineFootprint(EngineConfiguration(
            groups: [.init(name: "th", workers: 2, scheduling: .other(nice: 0))], memoryLocking: .currentAndFuture,
            privilegePolicy: .required, spinBudget: .zero))
        #expect(message.contains("the footprint (\(footprint.total) bytes) exceeds RLIMIT_MEMLOCK (soft 65536 bytes"), "\(message)")
        #expect(message.contains("CAP_IPC_LOCK is absent"), "\(message)")
        #expect(message.contains("setcap cap_ipc_lock+ep"), "\(message)")
    }
}
