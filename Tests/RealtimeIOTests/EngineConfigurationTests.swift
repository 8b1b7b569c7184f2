import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import Testing

@Suite("Engine: configuration errors")
struct EngineConfigurationTests {
    func field(of configuration: EngineConfiguration) -> String? {
        do throws(EngineError) {
            _ = try IOEngine(configuration: configuration)
            return nil
        } catch {
            if case .configuration(let e) = error { return e.field }
            return "unexpected: \(error)"
        }
    }

    @Test("each invalid field is named")
    func invalidFields() throws {
        var c = testConfiguration()
        c.groups[0].cpus = try CPUList(parsing: "64")
        #expect(field(of: c) == "groups[0].cpus")
        c = testConfiguration(); c.groups[0].scheduling = .fifo(priority: 0)
        #expect(field(of: c) == "groups[0].scheduling")
        c = testConfiguration(); c.groups[0].scheduling = .rr(priority: 100)
        #expect(field(of: c) == "groups[0].scheduling")
        c = testConfiguration(); c.groups[0].scheduling = .other(nice: 20)
        #expect(field(of: c) == "groups[0].scheduling")
        c = testConfiguration(); c.ringCapacity = 100
        #expect(field(of: c) == "ringCapacity")
        c = testConfiguration(); c.groups[0].workers = 0
        #expect(field(of: c) == "groups[0].workers")
        c = testConfiguration(); c.groups[0].name = "much-too-long"
        #expect(field(of: c) == "groups[0].name")
        c = testConfiguration(); c.groups = []
        #expect(field(of: c) == "groups")
        c = testConfiguration(); c.requestsInFlight = 0
        #expect(field(of: c) == "requestsInFlight")
    }

    @Test("an error message names the field, the problem and the remedy")
    func messageIsClear() throws {
        var c = testConfiguration()
        c.groups[0].cpus = try CPUList(parsing: "7")
        let online = try CPUList(parsing: "0-1")
        do throws(ConfigurationError) {
            try c.validate(onlineCPUs: online)
            Issue.record("should have thrown")
        } catch {
            #expect(error.description.contains("groups[0].cpus"))
            #expect(error.description.contains("not online"))
            #expect(error.description.contains("0-1"))
        }
    }

    @Test("a CPU outside the process's cpuset is refused naming the cpuset file and the allowed list")
    func cpuOutsideCpuset() throws {
        var c = testConfiguration()
        c.groups[0].workerCPUs = [try CPUList(parsing: "1"), try CPUList(parsing: "0-1")]
        let file = "/sys/fs/cgroup/rt.slice/cpuset.cpus.effective"
        let allowed = ProcessCPUs(online: try CPUList(parsing: "0-1"), cpuset: try CPUList(parsing: "1"), cpusetFile: file)
        do throws(ConfigurationError) {
            try c.validate(processCPUs: allowed)
            Issue.record("should have thrown")
        } catch {
            #expect(error.field == "groups[0].workerCPUs[1]", "\(error)")
            #expect(error.description.contains("0 outside this process's cpuset \(file)"), "\(error)")
            #expect(error.description.contains("allowed: 1"), "\(error)")
            #expect(!error.description.contains("not online"), "\(error)")
        }
        // Within the cpuset: valid.
        c.groups[0].workerCPUs = [try CPUList(parsing: "1"), try CPUList(parsing: "1")]
        try c.validate(processCPUs: allowed)
        // The public entry point takes an injected allowed set (no cpuset).
        c.groups[0].workerCPUs = nil
        c.groups[0].cpus = try CPUList(parsing: "1")
        #expect(throws: ConfigurationError.self) { try c.validate(onlineCPUs: try CPUList(parsing: "0")) }
    }

    @Test("configuration round-trips through JSON and loads from a layout file")
    func codable() throws {
        let c = EngineConfiguration(
            groups: [.init(name: "io", workers: 2, cpus: try CPUList(parsing: "1"), scheduling: .fifo(priority: 40)),
                     .init(name: "bg", workers: 1, scheduling: .other(nice: 10))],
            ringCapacity: 512, memoryLocking: .currentAndFuture, privilegePolicy: .required)
        let data = try JSONEncoder().encode(c)
        #expect(try JSONDecoder().decode(EngineConfiguration.self, from: data) == c)
        let minimal = #"{"groups":[{"name":"io","workers":1,"cpus":"1","scheduling":{"rr":5}}]}"#
        let m = try JSONDecoder().decode(EngineConfiguration.self, from: Data(minimal.utf8))
        #expect(m.groups[0].scheduling == .rr(priority: 5))
        #expect(m.ringCapacity == 256)
    }
}
