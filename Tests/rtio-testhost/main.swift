// rtio-testhost: a host process with one engine, for tests that need a
// separate process (dropped capabilities, rtio-admin against a live engine).
//
// Usage: rtio-testhost [--policy required|bestEffort] [--fifo N] [--other NICE] [--ioprio rt:N|be:N|idle] [--cpus LIST]
//                      [--lock none|current|currentAndFuture|onFault] [--workers N]
//                      [--hold SECONDS] [--name GROUP]
//        rtio-testhost --ondemand …  (see OnDemandMode.swift)
//        rtio-testhost --failed-creations … (see FailedCreationsMode.swift)
//        rtio-testhost --async-resume …  (see AsyncResumeMode.swift)
// Prints one JSON object: {"started":…, "error":…, "degradations":[…],
// "degradation_details":[{"kind","group","worker","requested","applied","reason"}], "io_ok":…,
// "workers":[{"name","tid","applied":…}]}, then (with --hold) keeps the engine
// alive for SECONDS, serving reads, and shuts it down.
import Foundation
import RealtimeIO
import SystemPackage

if CommandLine.arguments.dropFirst().first == "--ondemand" {
    runOnDemandMode(Array(CommandLine.arguments.dropFirst(2)))  // OnDemandMode.swift
}
if CommandLine.arguments.dropFirst().first == "--async-resume" {
    runAsyncResumeMode(Array(CommandLine.arguments.dropFirst(2)))  // AsyncResumeMode.swift
}
if CommandLine.arguments.dropFirst().first == "--failed-creations" {
    runFailedCreationsMode(Array(CommandLine.arguments.dropFirst(2)))  // FailedCreationsMode.swift
}

var policy = EngineConfiguration.PrivilegePolicy.bestEffort
var scheduling = SchedulingPolicy.fifo(priority: 40)
var cpus: CPUList? = nil
var lock = EngineConfiguration.MemoryLocking.currentAndFuture
var workers = 1
var hold = 0.0
var groupName = "th"
var ioPriority: IOPriority? = nil
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--policy": policy = EngineConfiguration.PrivilegePolicy(rawValue: args.next()!)!
    case "--fifo": scheduling = .fifo(priority: Int(args.next()!)!)
    case "--other": scheduling = .other(nice: Int(args.next()!)!)
    case "--cpus": cpus = try CPUList(parsing: args.next()!)
    case "--lock": lock = EngineConfiguration.MemoryLocking(rawValue: args.next()!)!
    case "--workers": workers = Int(args.next()!)!
    case "--hold": hold = Double(args.next()!)!
    case "--name": groupName = args.next()!
    case "--ioprio":
        let text = args.next()!
        let parts = text.split(separator: ":")
        switch parts.first {
        case "rt": ioPriority = .realtime(level: Int(parts[1])!)
        case "be": ioPriority = .bestEffort(level: Int(parts[1])!)
        default: ioPriority = .idle
        }
    default:
        FileHandle.standardError.write("rtio-testhost: unknown argument \(a)\n".data(using: .utf8)!)
        exit(64)
    }
}

var out: [String: Any] = [:]
let config = EngineConfiguration(
    groups: [.init(name: groupName, workers: workers, cpus: cpus, scheduling: scheduling, ioPriority: ioPriority)],
    memoryLocking: lock, privilegePolicy: policy, spinBudget: .nanoseconds(0))
do {
    let engine = try IOEngine(configuration: config)
    out["started"] = true
    out["degradations"] = engine.degradations.map(\.description)
    out["degradation_details"] = engine.degradations.map { d -> [String: Any] in
        ["kind": d.kind.rawValue, "group": d.group ?? "", "worker": d.worker ?? "", "requested": d.requested,
         "applied": d.applied, "reason": d.reason]
    }
    // Real I/O: write a file, read it back through the engine.
    // A fresh name (exclusive create), unlinked at once: a host killed by its test
    // (TestHost.stop) leaves no file behind, and a leftover of an earlier process
    // with this pid — owned by root, when this host runs as nobody — is never opened.
    let path = NSTemporaryDirectory() + "rtio-testhost-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    let fd = try FileDescriptor.open(
        path, .readWrite, options: [.create, .exclusiveCreate], permissions: [.ownerReadWrite])
    unlink(path)
    defer { try? fd.close() }
    var ok = true
    let data = (0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    try data.withUnsafeBytes { buf in
        try engine.submit(.write(fd, from: buf, at: 0), tag: 1)
        var done = false
        while !done { engine.reap(rearm: false) { c in ok = ok && c.result == 8192; done = true } }
    }
    var back = [UInt8](repeating: 0, count: 8192)
    try back.withUnsafeMutableBytes { buf in
        try engine.submit(.read(fd, into: buf, at: 0), tag: 2)
        var done = false
        while !done { engine.reap(rearm: false) { c in ok = ok && c.result == 8192; done = true } }
    }
    out["io_ok"] = ok && back == data
    out["workers"] = engine.workerSnapshots().map { s -> [String: Any] in
        ["name": s.name, "tid": s.tid, "applied": s.appliedScheduling.map { "\($0)" } ?? "?",
         "cpus": s.appliedCPUs.map { "\($0)" } ?? "?", "ioprio": s.appliedIOPriority.map { "\($0)" } ?? "none"]
    }
    let json = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
    print(String(decoding: json, as: UTF8.self))
    fflush(nil)
    if hold > 0 {
        let until = Date().addingTimeInterval(hold)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < until {
            buffer.withUnsafeMutableBytes { buf in
                if (try? engine.submit(.read(fd, into: buf, at: 0), tag: 3)) != nil {
                    while engine.reap(rearm: false, { _ in }) == 0 { usleep(10) }
                }
            }
            usleep(10_000)
        }
    }
    engine.shutdown(.drain)
} catch {
    out["started"] = false
    out["error"] = "\(error)"
    let json = try! JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
    print(String(decoding: json, as: UTF8.self))
}
