// rtio-example-prometheus — an IOEngine's worker counters as Prometheus text.
//
// Runs 200 writes through a two-worker engine, polls its counters once with
// EngineMetrics into a swift-prometheus registry, and prints what a scrape of
// /metrics would return. A server would call `metrics.run(every:)` in a task
// and answer each scrape with `registry.emitToString()`.
//
//   swift run rtio-example-prometheus
import Prometheus
import RealtimeIO
import RealtimeIOMetrics
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

let requests = 200
let configuration = EngineConfiguration(
    groups: [.init(name: "io", workers: 2, scheduling: .other(nice: 0))],
    ringCapacity: 256, requestsInFlight: 256, memoryLocking: .none, privilegePolicy: .bestEffort)

do {
    let registry = PrometheusCollectorRegistry()
    let engine = try IOEngine(configuration: configuration)
    let metrics = EngineMetrics(engine: engine, factory: PrometheusMetricsFactory(registry: registry))

    let path = "/tmp/rtio-example-prometheus-\(getpid()).dat"
    let fd = try FileDescriptor.open(path, .readWrite, options: [.create, .truncate], permissions: .ownerReadWrite)
    defer { try? fd.close(); unlink(path) }
    let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 64)
    defer { block.deallocate() }
    block.initializeMemory(as: UInt8.self, repeating: 0x2a)

    for i in 0..<requests {
        try engine.submit(.write(fd, from: UnsafeRawBufferPointer(block), at: Int64(i * 512)), tag: UInt64(i))
    }
    // Sleep on the completion eventfd between reaps (reap re-arms it when it finds nothing).
    var reaped = 0
    var pollfd = Glibc.pollfd(fd: engine.completionFD.rawValue, events: Int16(POLLIN), revents: 0)
    while reaped < requests {
        if engine.reap({ _ in reaped += 1 }) == 0 { _ = poll(&pollfd, 1, 1000) }
    }

    metrics.poll()
    engine.shutdown(.drain)
    print(registry.emitToString(), terminator: "")
} catch {
    print("error: \(error)")
    exit(1)
}
