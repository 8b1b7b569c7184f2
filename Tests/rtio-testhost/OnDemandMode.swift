// rtio-testhost --ondemand [--count N] [--spawner hostLoop|spawnerThread] [--sleep-ms MS] [--degrade]
//
// An engine in pure on-demand mode (no groups; with --degrade: one SCHED_FIFO
// group and onDemand.degradeToOnDemand, so it runs on-demand when FIFO is refused) that submits N custom requests
// (each sleeps MS ms, so workers are needed), reaps them all on this thread
// (the host loop), shuts down, and prints one JSON object:
// {"started","submitted","completed","unique","ok","eagain","other",
//  "threads_created","creation_failures","failed_for_no_thread","mode","degradations"}.
// Run under a low RLIMIT_NPROC to exercise thread-creation failure.
import Foundation
import RealtimeIO

private let sleepingCall: CustomBlockingCall = { context in
    usleep(UInt32(Int(bitPattern: context)) * 1000)
    return 0
}

func runOnDemandMode(_ arguments: [String]) -> Never {
    var count = 64
    var spawner = OnDemandPool.Spawner.hostLoop
    var sleepMilliseconds = 10
    var degrade = false
    var it = arguments.makeIterator()
    while let a = it.next() {
        switch a {
        case "--count": count = Int(it.next()!)!
        case "--spawner": spawner = OnDemandPool.Spawner(rawValue: it.next()!)!
        case "--sleep-ms": sleepMilliseconds = Int(it.next()!)!
        case "--degrade": degrade = true
        default:
            FileHandle.standardError.write("rtio-testhost --ondemand: unknown argument \(a)\n".data(using: .utf8)!)
            exit(64)
        }
    }
    var out: [String: Any] = [:]
    let config = EngineConfiguration(
        groups: degrade ? [.init(name: "dg", workers: 1, scheduling: .fifo(priority: 10))] : [],
        requestsInFlight: max(1, count), privilegePolicy: .bestEffort, spinBudget: .nanoseconds(0),
        onDemand: EngineConfiguration.OnDemand(maxThreads: 64, idleTimeout: .seconds(1), spawner: spawner, degradeToOnDemand: degrade))
    do {
        let engine = try IOEngine(configuration: config)
        out["started"] = true
        out["mode"] = engine.mode.rawValue
        out["degradations"] = engine.degradations.map(\.description)
        var seen = [Int](repeating: 0, count: count)
        var ok = 0, eagain = 0, other = 0, completed = 0
        let collect: (IOCompletion) -> Void = { c in
            completed += 1
            if c.tag < UInt64(count) { seen[Int(c.tag)] += 1 }
            if c.result == 0 { ok += 1 } else if c.result == -Int(EAGAIN) { eagain += 1 } else { other += 1 }
        }
        let context = UnsafeMutableRawPointer(bitPattern: sleepMilliseconds)
        for tag in 0..<count {
            while true {
                do {
                    try engine.submit(.custom(sleepingCall, context: context), tag: UInt64(tag))
                    break
                } catch {
                    engine.reap(rearm: false, collect)
                    usleep(100)
                }
            }
        }
        let deadline = Date().addingTimeInterval(60)
        while completed < count && Date() < deadline {
            if engine.reap(rearm: false, collect) == 0 { usleep(200) }
        }
        let stats = engine.onDemandStatistics
        engine.shutdown(.drain)
        engine.reap(rearm: false, collect)
        out["submitted"] = count
        out["completed"] = completed
        out["unique"] = seen.allSatisfy { $0 == 1 }
        out["ok"] = ok
        out["eagain"] = eagain
        out["other"] = other
        out["threads_created"] = stats?.threadsCreated ?? -1
        out["creation_failures"] = stats?.creationFailures ?? -1
        out["failed_for_no_thread"] = stats?.failedForNoThread ?? -1
    } catch {
        out["started"] = false
        out["error"] = "\(error)"
    }
    let json = try! JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
    print(String(decoding: json, as: UTF8.self))
    fflush(nil)
    exit(0)
}
