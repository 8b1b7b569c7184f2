// rtio-testhost --async-resume [--count N]
//
// A fresh process (no Swift concurrency thread exists yet) with one SCHED_FIFO
// worker. From a task on the global concurrent executor it awaits `perform` N
// times and prints one JSON object:
// {"worker_tid","worker_policy","after_await":[{"tid","policy"}...],
//  "fifo_threads":[tids of every thread of the process that is SCHED_FIFO at the end, workers excluded]}.
// A dispatch thread born from the worker (a resume that makes the global
// executor create a thread) would inherit SCHED_FIFO and show in both lists.
import Foundation
import Glibc
import RealtimeIO

private let returnSeven: CustomBlockingCall = { _ in 7 }

/// The calling thread's tid (/proc/thread-self is "<pid>/task/<tid>").
private func currentTID() -> Int32 {
    let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
    return Int32(link.split(separator: "/").last ?? "") ?? -1
}

private final class Box: @unchecked Sendable { var places: [[String: Int32]] = [] }

func runAsyncResumeMode(_ arguments: [String]) -> Never {
    var count = 20
    var it = arguments.makeIterator()
    while let a = it.next() {
        switch a {
        case "--count": count = Int(it.next()!)!
        default:
            FileHandle.standardError.write("rtio-testhost --async-resume: unknown argument \(a)\n".data(using: .utf8)!)
            exit(64)
        }
    }
    let engine: IOEngine
    do {
        engine = try IOEngine(configuration: EngineConfiguration(
            groups: [.init(name: "ar", workers: 1, scheduling: .fifo(priority: 20))],
            memoryLocking: .none, privilegePolicy: .required, spinBudget: .nanoseconds(0)))
    } catch {
        print("{\"error\":\"\(error)\"}")
        exit(1)
    }
    let worker = engine.workerSnapshots()[0].tid
    let box = Box()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        for _ in 0..<count {
            _ = try? await engine.perform(.custom(returnSeven, context: nil))
            box.places.append(["tid": currentTID(), "policy": sched_getscheduler(0)])
        }
        done.signal()
    }
    done.wait()
    var fifo: [Int32] = []
    if let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") {
        for t in tasks {
            guard let tid = Int32(t), tid != worker else { continue }
            if sched_getscheduler(tid) == SCHED_FIFO { fifo.append(tid) }
        }
    }
    let workerPolicy = sched_getscheduler(worker)
    engine.shutdown()
    let json: [String: Any] = [
        "worker_tid": worker, "worker_policy": workerPolicy,
        "after_await": box.places, "fifo_threads": fifo.sorted(),
    ]
    let data = try! JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
    print(String(data: data, encoding: .utf8)!)
    exit(0)
}
