import Foundation
import Testing

@testable import RealtimeIO
@testable import RealtimeIODiagnostics
@testable import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

@Suite("Admin: status files", .tags(.concurrency))
struct AdminStatusFileTests {
    @Test func publishedWhileRunningAndUnlinkedAtShutdown() throws {
        let a = try IOEngine(configuration: testConfiguration(workers: 2))
        let b = try IOEngine(configuration: testConfiguration(workers: 1))
        let pathA = try #require(a.statusFilePath), pathB = try #require(b.statusFilePath)
        #expect(pathA != pathB)  // same group name, same process: a suffix keeps them apart
        #expect(!a.degradations.contains { $0.kind == .statusFile })
        #expect(access(pathA, F_OK) == 0 && access(pathB, F_OK) == 0)

        // The mapped counters are the engine's own: tids and completions show through.
        let reader = try StatusFileReader(path: pathA)
        #expect(reader.summary.pid == getpid())
        #expect(!reader.summary.stale)
        #expect(reader.workers.map(\.tid) == a.workerThreadIDs)
        #expect(reader.workers.map(\.name) == ["rtio-t-0", "rtio-t-1"])
        #expect(reader.workers[0].requestedCPUs == nil)
        #expect(reader.workers[0].requestedScheduling == .other(nice: 0))
        #expect(reader.workers[0].requestedIOPriority == nil)
        #expect(reader.summary.mode == "preallocated")
        #expect(reader.degradations == a.degradations)
        let file = try TemporaryFile(size: 4096)
        var buffer = [UInt8](repeating: 0, count: 512)
        try buffer.withUnsafeMutableBytes { _ = try a.submit(.read(file.fd, into: $0, at: 0), tag: 1, placement: .worker(1)) }
        #expect(reapAll(a, count: 1).count == 1)
        #expect(reader.workers[1].counters[.completed] == 1)

        a.shutdown()
        b.shutdown()
        #expect(access(pathA, F_OK) != 0 && access(pathB, F_OK) != 0)
        // The reader's mapping outlives the unlink.
        #expect(reader.workers[1].counters[.completed] == 1)
    }

    @Test func staleFilesAreFlaggedNotLive() throws {
        // A valid file to copy, then two forgeries: a dead pid, and our pid with a wrong start time.
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        defer { engine.shutdown() }
        let template = try Data(contentsOf: URL(fileURLWithPath: try #require(engine.statusFilePath)))
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let deadPID = child.processIdentifier
        let directory = StatusFile.directory

        func forge(pid: Int32, start: UInt64?, name: String) throws -> String {
            var bytes = [UInt8](template)
            bytes.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: Int64(pid), toByteOffset: StatusFileLayout.Header.pid, as: Int64.self)
                if let start { raw.storeBytes(of: start, toByteOffset: StatusFileLayout.Header.startTime, as: UInt64.self) }
            }
            let path = "\(directory)/\(pid)-\(name).status"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]))
            return path
        }
        let dead = try forge(pid: deadPID, start: nil, name: "stale")
        let reused = try forge(pid: getpid(), start: 1, name: "reused")
        defer { unlink(dead); unlink(reused) }

        let summaries = StatusFile.list()
        let deadSummary = try #require(summaries.first { $0.path == dead })
        #expect(deadSummary.stale)
        #expect(deadSummary.staleReason?.contains("gone") == true)
        let reusedSummary = try #require(summaries.first { $0.path == reused })
        #expect(reusedSummary.stale)
        #expect(reusedSummary.staleReason?.contains("reused") == true)
        #expect(summaries.first { $0.path == engine.statusFilePath }?.stale == false)

        let list = try admin(["list", "--all", "--json"])
        let engines = try jsonObject(list.out)["engines"] as? [[String: Any]] ?? []
        #expect(engines.first { $0["path"] as? String == dead }?["stale"] as? Bool == true)
        #expect(engines.first { $0["path"] as? String == reused }?["stale"] as? Bool == true)
        try expectRejected(["show", "\(deadPID)"], mentioning: "stale")
        let showAll = try admin(["show", "--json"])
        #expect(showAll.status == 0)
        #expect(!showAll.out.contains("\"pid\" : \(deadPID),"))
        // Only the live engine of this process is opened.
        #expect(try StatusFile.open(pid: getpid()).allSatisfy { $0.summary.path != reused })

        let removed = StatusFile.removeStale()
        #expect(removed.contains(dead) && removed.contains(reused))
        #expect(access(dead, F_OK) != 0 && access(reused, F_OK) != 0)
        #expect(access(try #require(engine.statusFilePath), F_OK) == 0)
    }
}
