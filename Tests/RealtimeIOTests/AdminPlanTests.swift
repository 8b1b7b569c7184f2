import Foundation
import Testing

@testable import RealtimeIO
@testable import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

@Suite("Admin: plan")
struct AdminPlanTests {
    @Test func planIsAcceptedAsIs() throws {
        let r = try admin(["plan", "--workers", "3", "--allow-shared", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let configuration = try JSONDecoder().decode(EngineConfiguration.self, from: Data(r.out.utf8))
        #expect(configuration.workerCount == 3)
        let online = try SystemTopology.onlineCPUs()
        if online.count > 1 {
            #expect(configuration.groups[0].workerCPUs?.allSatisfy { !$0.contains(online.cpus[0]) } == true)
        }
        let engine = try IOEngine(configuration: configuration)
        defer { engine.shutdown() }
        #expect(engine.workerCount == 3)

        let table = try admin(["plan", "--workers", "2", "--allow-shared"])
        #expect(table.status == 0)
        #expect(table.out.contains("rtio-io-1"))
        try expectRejected(["plan", "--workers", "0"], mentioning: "--workers '0'")
        try expectRejected(["plan", "--workers", "x"], mentioning: "--workers 'x'")
    }
}
