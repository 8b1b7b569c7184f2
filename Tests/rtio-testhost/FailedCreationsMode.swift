// rtio-testhost --failed-creations N --kind config|privilege|threads|footprint|readback [--warmup W]
//
// Creates an engine that fails to start, W times to warm up (runtime caches,
// malloc's per-thread caches), then N times more, and prints one JSON object:
// {"kind","count","failures","error","heap_before","heap_after","heap_growth"}
// where the heap figures are mallinfo2()'s bytes in use (every arena). A leak of
// one allocation per failed creation grows the heap by at least 32 bytes × N.
//
// Kinds (the caller provides the conditions for the last three):
// - config: a ring capacity that is not a power of two (validation);
// - privilege: SCHED_FIFO 40 under `required` (run without CAP_SYS_NICE, RLIMIT_RTPRIO 0);
// - threads: 3 workers under `bestEffort` (run with an RLIMIT_NPROC that refuses them);
// - footprint: a configuration far larger than this machine's memory;
// - readback: nice -5 under `required` (run in a user namespace: the kernel keeps nice 0).
import Foundation
import CMallocCounter
import Glibc
import RealtimeIO

func runFailedCreationsMode(_ arguments: [String]) -> Never {
    var count = 1000
    var warmup = 50
    var kind = "config"
    var it = arguments.makeIterator()
    while let a = it.next() {
        switch a {
        case "--kind": kind = it.next()!
        case "--warmup": warmup = Int(it.next()!)!
        case "--count": count = Int(it.next()!)!
        default:
            FileHandle.standardError.write("rtio-testhost --failed-creations: unknown argument \(a)\n".data(using: .utf8)!)
            exit(64)
        }
    }
    var configuration = EngineConfiguration(groups: [])
    var json: String? = nil
    switch kind {
    case "json-syntax": json = "{\"groups\": [{\"name\": \"x\", "
    case "json-type": json = "{\"groups\": [{\"name\": \"x\", \"workers\": \"two\"}]}"
    case "json-missing": json = "{\"groups\": [{\"name\": \"x\"}]}"
    case "json-invalid": json = "{\"groups\": [{\"name\": \"x\", \"workers\": 1}], \"ringCapacity\": 3}"
    case "spawner":
        configuration = EngineConfiguration(
            groups: [], spinBudget: .zero, onDemand: .init(maxThreads: 4, spawner: .spawnerThread))
    case "mlock":
        configuration = EngineConfiguration(
            groups: [.init(name: "fc", workers: 1)], memoryLocking: .currentAndFuture, privilegePolicy: .required,
            spinBudget: .zero)
    case "config":
        configuration = EngineConfiguration(groups: [.init(name: "fc", workers: 1)], ringCapacity: 3)
    case "privilege":
        configuration = EngineConfiguration(
            groups: [.init(name: "fc", workers: 1, scheduling: .fifo(priority: 40))], privilegePolicy: .required,
            spinBudget: .zero)
    case "threads":
        configuration = EngineConfiguration(groups: [.init(name: "fc", workers: 3)], spinBudget: .zero)
    case "footprint":
        configuration = EngineConfiguration(
            groups: (0..<4).map { .init(name: "f\($0)", workers: 1024) }, ringCapacity: 1 << 20, requestsInFlight: 1 << 20)
    case "readback":
        configuration = EngineConfiguration(
            groups: [.init(name: "fc", workers: 2, scheduling: .other(nice: -5))], privilegePolicy: .required,
            spinBudget: .zero)
    default:
        FileHandle.standardError.write("rtio-testhost --failed-creations: unknown kind \(kind)\n".data(using: .utf8)!)
        exit(64)
    }
    var failures = 0
    var lastError = ""
    func attempt() {
        do {
            if let json { configuration = try EngineConfiguration(json: json) }
            let engine = try IOEngine(configuration: configuration)
            engine.shutdown()
        } catch {
            failures += 1
            lastError = "\(error)"
        }
    }
    for _ in 0..<warmup { attempt() }
    let before = heapInUse()
    for _ in 0..<count { attempt() }
    let after = heapInUse()
    let out: [String: Any] = [
        "kind": kind, "count": count, "failures": failures - warmup, "error": lastError,
        "heap_before": before, "heap_after": after, "heap_growth": Int(after) - Int(before),
    ]
    let encoded = try! JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
    print(String(decoding: encoded, as: UTF8.self))
    exit(0)
}

/// Heap bytes in use, every arena (mallinfo2's `uordblks`).
private func heapInUse() -> Int { Int(rtio_malloc_heap_in_use()) }
