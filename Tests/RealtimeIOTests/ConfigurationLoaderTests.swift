import Testing
@testable import RealtimeIO
@testable import RealtimeIOLinux

/// `EngineConfiguration(json:)`: the one loader behind Swift hosts, the C ABI
/// and the POSIX AIO drop-in.
@Suite("Configuration: JSON loader")
struct ConfigurationLoaderTests {
    func error(_ json: String) -> ConfigurationError? {
        do throws(ConfigurationError) {
            _ = try EngineConfiguration(json: json)
            return nil
        } catch {
            return error
        }
    }

    @Test("every failure names the JSON path, the problem and a remedy", arguments: [
        (#"{"groups":["#, "<document>", "not valid JSON"),
        (#"{}"#, "groups", "required field missing"),
        (#"{"groups":[{"name":"io"}]}"#, "groups[0].workers", "required field missing"),
        (#"{"groups":[{"name":"io","workers":"two"}]}"#, "groups[0].workers", "expected an integer"),
        (#"{"groups":[{"name":"io","workers":1,"scheduling":{"fifo":0}}]}"#, "groups[0].scheduling", "priority 0"),
        (#"{"groups":[{"name":"io","workers":1}],"ringCapacity":100}"#, "ringCapacity", "not a power of two"),
        (#"{"groups":[{"name":"io","workers":1}],"requestsInFlight":2000000}"#, "requestsInFlight", "2000000"),
        (#"{"groups":[{"name":"io","workers":1}],"realtimeSharePercent":0}"#, "realtimeSharePercent", "0"),
        (#"{"groups":[{"name":"io","workers":1}],"spinBudgetNanoseconds":-1}"#, "spinBudgetNanoseconds", "-1"),
        (#"{"groups":[{"name":"io","workers":1}],"realtimeShareRestSliceNanoseconds":5000}"#, "realtimeShareRestSliceNanoseconds", "5000"),
        (#"{"groups":[],"onDemand":{"idleTimeoutSeconds":1e-12}}"#, "onDemand.idleTimeoutSeconds", "s"),
        (#"{"groups":[],"onDemand":{"maxThreads":0}}"#, "onDemand.maxThreads", "0"),
        (#"{"groups":[{"name":"io","workers":1}],"memoryLocking":"all"}"#, "memoryLocking", "all"),
    ])
    func paths(json: String, field: String, problem: String) throws {
        let e = try #require(error(json), "\(json) should be refused")
        #expect(e.field == field, "\(e)")
        #expect(e.problem.contains(problem), "\(e)")
        #expect(!e.remedy.isEmpty)
        #expect(e.description.hasPrefix("invalid configuration: \(field): "))
    }

    @Test("times are Durations; JSON keeps the unit in the key; earlier key names still load")
    func durationsAndOldKeys() throws {
        let c = try EngineConfiguration(json: #"""
            {"groups":[{"name":"io","workers":1}],"spinBudgetNanoseconds":20000,"spinDutyCyclePercent":70,
             "dutyCycleRest":"demote","onDemand":{"overflow":true,"idleTimeoutSeconds":0.5}}
            """#)
        #expect(c.spinBudget == .microseconds(20))
        #expect(c.realtimeSharePercent == 70 && c.realtimeShareRest == .demote)
        #expect(c.onDemand?.idleTimeout == .milliseconds(500))
        // Written back with the current keys, read back equal.
        let again = try EngineConfiguration(json: c.json)
        #expect(again == c)
        #expect(c.json.contains(#""realtimeSharePercent":70"#) && !c.json.contains("spinDutyCyclePercent"))
    }

    @Test("ring and slab refuse what validation refuses, with the same error")
    func oneSetOfLimits() throws {
        let limit = EngineConfiguration.Limits.ringCapacity.upperBound
        #expect(throws: ConfigurationError.self) { _ = try SubmissionRing(capacity: limit * 2) }
        #expect(throws: ConfigurationError.self) { _ = try RequestSlab(count: EngineConfiguration.Limits.requestsInFlight.upperBound + 1) }
        var c = EngineConfiguration(groups: [.init(name: "io", workers: 1)])
        c.ringCapacity = limit * 2
        #expect(error(c.json)?.field == "ringCapacity")
    }
}
