import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import RealtimeIO
import RealtimeIODiagnostics

/// `rtio-admin metrics [--listen [ADDR:]PORT]`
///
/// Prometheus text exposition (format 0.0.4) of every running engine: once to
/// stdout (for node_exporter's textfile collector), or served at `/metrics`
/// over HTTP with `--listen` (loopback unless an address is given).
struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Prometheus metrics of every running engine (stdout, or HTTP with --listen).",
        discussion: """
            Counters and gauges are rendered by swift-prometheus; the latency histograms are classic \
            cumulative buckets (le at 16 ns, then 2^e and 1.5·2^e ns, in seconds) computed from the \
            status file's HDR buckets. --listen PORT or ADDR:PORT serves GET /metrics (127.0.0.1 unless \
            ADDR is given; [::1]:PORT for IPv6) and prints the bound address.
            """)

    @Option(name: .long, help: ArgumentHelp("Serve /metrics over HTTP on [ADDR:]PORT (default address 127.0.0.1).", valueName: "addr:port"))
    var listen: String?

    @Option(name: .long, help: "Only this process.") var pid: String?

    func run() throws {
        let only = try pid.map { try Admin.pid($0) }
        guard let listen else {
            let (text, problems, engines) = MetricsText.render(pid: only)
            if let only, engines == 0 {
                // As `show PID`: a process with no engine is EX_NOINPUT, not an empty page.
                if problems { throw ExitCode(AdminExit.noPermission.rawValue) }
                throw AdminError(kill(only, 0) == 0 || errno == EPERM
                    ? "no running RealtimeIO engine in pid \(only): it maps no status file" : "no process \(only)", .noInput)
            }
            print(text, terminator: "")
            if problems { throw ExitCode(AdminExit.noPermission.rawValue) }
            return
        }
        let (host, port) = try Self.address(listen)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 32)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(pid: only))
                }
            }
        let channel: any Channel
        do { channel = try bootstrap.bind(host: host, port: port).wait() } catch {
            throw AdminError("cannot listen on \(listen): \(error)", .osError)
        }
        let bound = channel.localAddress.map { a in a.protocol == .inet6 ? "[\(a.ipAddress ?? host)]:\(a.port ?? port)" : "\(a.ipAddress ?? host):\(a.port ?? port)" } ?? listen
        print("serving http://\(bound)/metrics")
        fflush(nil)
        try channel.closeFuture.wait()
    }

    /// `PORT`, `:PORT`, `ADDR:PORT` or `[V6]:PORT`; loopback by default.
    static func address(_ text: String) throws(AdminError) -> (String, Int) {
        var host = "127.0.0.1"
        var portText = text
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            portText = String(text[close...].dropFirst().drop { $0 == ":" })
        } else if let colon = text.lastIndex(of: ":") {
            if colon != text.startIndex { host = String(text[..<colon]) }
            portText = String(text[text.index(after: colon)...])
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw .usage("invalid --listen '\(text)': expected PORT, ADDR:PORT or [IPV6]:PORT with PORT in 0...65535")
        }
        return (host, port)
    }
}

/// Answers `GET /metrics` with the exposition text, anything else with 404.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let pid: Int32?
    private var head: HTTPRequestHead?

    init(pid: Int32?) { self.pid = pid }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let h = head else { return }
            head = nil
            let status: HTTPResponseStatus
            let body: String
            let type: String
            if h.method == .GET && (h.uri == "/metrics" || h.uri.hasPrefix("/metrics?")) {
                status = .ok
                body = MetricsText.render(pid: pid).text
                type = "text/plain; version=0.0.4; charset=utf-8"
            } else {
                status = .notFound
                body = "rtio-admin serves GET /metrics only\n"
                type = "text/plain; charset=utf-8"
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: type)
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            if !h.isKeepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            let done = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
            if !h.isKeepAlive {
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                done.futureResult.whenComplete { _ in bound.value.close(promise: nil) }
            }
        }
    }
}

/// The exposition text: counters and gauges through a fresh swift-prometheus
/// registry per rendering (values are absolute, read from the status files),
/// histograms from the HDR buckets.
enum MetricsText {
    static func render(pid: Int32?) -> (text: String, problems: Bool, engines: Int) {
        let found = StatusFile.discover(only: pid)
        let engines = found.summaries.filter { !$0.stale && (pid == nil || $0.pid == pid) }
            .compactMap { try? StatusFileReader(path: $0.path) }.map(EngineView.init)
        return (render(engines), !found.problems.isEmpty, engines.count)
    }

    static func render(_ engines: [EngineView]) -> String {
        let registry = PrometheusCollectorRegistry()
        for e in engines {
            let labels = [("pid", "\(e.pid)"), ("engine", e.engine)]
            registry.gauge(name: "rtio_engine_info", labels: labels + [("process", e.process ?? ""), ("mode", e.mode)],
                               help: "A running RealtimeIO engine (always 1).").set(1.0)
            registry.gauge(name: "rtio_engine_workers", labels: labels, help: "Preallocated workers.").set(Double(e.workers.count))
            registry.gauge(name: "rtio_engine_on_demand_workers", labels: labels, help: "On-demand worker threads alive now.")
                .set(Int64(e.onDemandWorkers.count))
            registry.gauge(name: "rtio_engine_on_demand_max_workers", labels: labels, help: "The on-demand pool's thread limit (0: no pool).")
                .set(Int64(e.onDemandMaxThreads))
            registry.gauge(name: "rtio_engine_degradations", labels: labels, help: "Settings the engine started without.")
                .set(Int64(e.degradations?.count ?? 0))
            registry.gauge(name: "rtio_engine_locked_memory_bytes", labels: labels, help: "VmLck of the process.")
                .set(Int64((e.vmLckKiB ?? 0) * 1024))
            for w in e.workers {
                let wl = labels + [("worker", w.name), ("group", w.group), ("tid", "\(w.tid)")]
                func counter(_ name: String, _ help: String, _ value: UInt64) {
                    registry.counter(name: name, labels: wl, help: help).increment(by: Int64(clamping: value))
                }
                counter("rtio_worker_completed_total", "Requests completed.", w.completed)
                counter("rtio_worker_errors_total", "Completed requests that failed.", w.errors)
                counter("rtio_worker_cancelled_total", "Requests cancelled before they ran.", w.cancelled)
                counter("rtio_worker_parks_total", "Times the worker parked (slept in the futex).", w.parks)
                counter("rtio_worker_wakes_total", "Times a submitter woke the worker.", w.wakes)
                counter("rtio_worker_demotions_total", "Real-time-share rests spent demoted to SCHED_OTHER.", w.demotions)
                counter("rtio_worker_restore_failures_total", "Restores of the real-time policy the kernel refused.", w.restoreFailures)
                counter("rtio_worker_submitter_reads_total", "Requests of the worker that hosts ran themselves (reads during its rests, serveHere).", w.readsBySubmitters)
                registry.counter(name: "rtio_worker_busy_seconds_total", labels: wl, help: "Time spent executing requests.")
                    .increment(by: Double(w.busyNanoseconds) / 1e9)
                registry.gauge(name: "rtio_worker_queue_depth", labels: wl, help: "Requests waiting in the worker's ring.")
                    .set(Int64(clamping: w.queueDepth))
                registry.gauge(name: "rtio_worker_max_queue_depth", labels: wl, help: "The deepest the ring has been.")
                    .set(Int64(clamping: w.maxQueueDepth))
                registry.gauge(name: "rtio_worker_in_flight", labels: wl, help: "Requests in the worker's own io_uring (inFlight above 1).")
                    .set(Int64(clamping: w.inFlight))
                registry.gauge(name: "rtio_worker_realtime", labels: wl, help: "1 if the worker runs SCHED_FIFO or SCHED_RR now.")
                    .set(w.applied.scheduling?.isRealtime == true ? 1.0 : 0.0)
                if let faults = w.minorFaults {
                    registry.counter(name: "rtio_worker_minor_faults_total", labels: wl, help: "Minor page faults of the thread.")
                        .increment(by: Int64(faults))
                }
                if let faults = w.majorFaults {
                    registry.counter(name: "rtio_worker_major_faults_total", labels: wl, help: "Major page faults of the thread.")
                        .increment(by: Int64(faults))
                }
            }
        }
        var text = registry.emitToString()
        text += histogram("rtio_worker_service_seconds", "Time requests took to execute.", engines, \.serviceBuckets)
        text += histogram("rtio_worker_queue_wait_seconds", "Time requests waited in the worker's ring.", engines, \.queueWaitBuckets)
        return text
    }

    /// Upper bounds (ns) of the classic buckets: 16, then 2^e and 1.5·2^e up to 2^34 (17 s).
    /// Each is an edge of the HDR layout, so every cumulative count is exact.
    static let bounds: [UInt64] = {
        var b: [UInt64] = [16]
        for e in 4...33 { b.append(UInt64(3) << UInt64(e - 1)); b.append(UInt64(1) << UInt64(e + 1)) }
        return b
    }()

    static func histogram(_ name: String, _ help: String, _ engines: [EngineView], _ buckets: KeyPath<EngineView.Worker, [UInt64]>) -> String {
        var out = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for e in engines {
            for w in e.workers {
                let labels = "pid=\"\(e.pid)\",engine=\"\(escape(e.engine))\",worker=\"\(escape(w.name))\",group=\"\(escape(w.group))\",tid=\"\(w.tid)\""
                let counts = w[keyPath: buckets]
                var cumulative: UInt64 = 0
                var index = 0
                var sum = 0.0
                for bound in bounds {
                    while index < counts.count, WorkerCounters.bucketRange(index).upper <= bound {
                        cumulative += counts[index]
                        index += 1
                    }
                    out += "\(name)_bucket{\(labels),le=\"\(seconds(bound))\"} \(cumulative)\n"
                }
                let total = counts.reduce(0, +)
                for (i, n) in counts.enumerated() where n > 0 {
                    let (lower, upper) = WorkerCounters.bucketRange(i)
                    sum += Double(n) * (Double(lower) + Double(upper - lower) / 2)
                }
                out += "\(name)_bucket{\(labels),le=\"+Inf\"} \(total)\n"
                out += "\(name)_sum{\(labels)} \(sum / 1e9)\n"
                out += "\(name)_count{\(labels)} \(total)\n"
            }
        }
        return out
    }

    static func seconds(_ ns: UInt64) -> String { "\(Double(ns) / 1e9)" }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}

extension PrometheusCollectorRegistry {
    /// A gauge by its full name (swift-prometheus 2.4 deprecates `makeGauge(name:labels:help:)`
    /// for descriptors; an empty unit adds no suffix).
    func gauge(name: String, labels: [(String, String)], help: String) -> Gauge {
        makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    /// A counter by its full name (see ``gauge(name:labels:help:)``).
    func counter(name: String, labels: [(String, String)], help: String) -> Counter {
        makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }
}
