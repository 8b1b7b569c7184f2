import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import SystemPackage
import Testing

extension OnDemandTests {
    // MARK: configuration

    @Suite("OnDemand: configuration and modes")
    struct Modes {
        @Test("no groups is valid only with onDemand; JSON round trip")
        func validation() throws {
            #expect(throws: ConfigurationError.self) { try EngineConfiguration(groups: []).validate() }
            try onDemandConfiguration(spawner: .hostLoop).validate()
            let json = #"{"groups":[],"onDemand":{"maxThreads":8,"idleTimeoutSeconds":0.5,"spawner":"spawnerThread"}}"#
            let decoded = try JSONDecoder().decode(EngineConfiguration.self, from: Data(json.utf8))
            #expect(decoded.onDemand == EngineConfiguration.OnDemand(maxThreads: 8, idleTimeout: .seconds(0.5), spawner: .spawnerThread))
            let again = try JSONDecoder().decode(EngineConfiguration.self, from: JSONEncoder().encode(decoded))
            #expect(again == decoded)
            var bad = onDemandConfiguration(spawner: .hostLoop)
            bad.onDemand?.maxThreads = 0
            #expect(throws: ConfigurationError.self) { try bad.validate() }
            bad = testConfiguration()
            bad.privilegePolicy = .required
            bad.onDemand = EngineConfiguration.OnDemand(degradeToOnDemand: true)
            #expect(throws: ConfigurationError.self) { try bad.validate() }
        }

        @Test("on-demand mode: placement .worker(i) is refused; async perform works")
        func placements() async throws {
            let engine = try IOEngine(configuration: onDemandConfiguration(spawner: .spawnerThread))
            defer { engine.shutdown() }
            #expect(engine.mode == .onDemand && engine.workerCount == 0)
            #expect(throws: SubmitError.noSuchWorker(0)) {
                try engine.submit(.custom(echoCall, context: nil), tag: 0, placement: .worker(0))
            }
            let value = try await engine.perform(.custom(echoCall, context: UnsafeMutableRawPointer(bitPattern: 42)))
            #expect(value == 42)
        }

        @Test("degradeToOnDemand: real-time refused (child without CAP_SYS_NICE) starts in on-demand mode", .tags(.needsRoot))
        func degrade() throws {
            let host = builtProduct("rtio-testhost")
            let r = try CreationFailure.run("/usr/sbin/capsh", [
                "--drop=cap_sys_nice", "--", "-c", "ulimit -r 0; exec \(host) --ondemand --degrade --count 16 --sleep-ms 1",
            ])
            #expect(r["started"] as? Bool == true, "\(r)")
            #expect(r["mode"] as? String == "onDemand", "\(r)")
            let degradations = r["degradations"] as? [String] ?? []
            #expect(degradations.contains { $0.contains("on-demand mode") }, "\(degradations)")
            #expect(r["ok"] as? Int == 16, "\(r)")
        }
    }
}
