// Output: the stdout table, the JSON document, .hgrm files and the SVG latency-by-percentile plot.
//
// JSON (`--json FILE` and `<out>/<scenario>.json`), one document per scenario:
//   {"scenario": "latency"|"throughput"|"interference"|"burst",
//    "machine": {"kernel","cpus","cpu_model","swift_version","date"},
//    "engines": [{"name", "skipped": null|"reason", "iops",
//                 "latency_ns": {"p50","p90","p99","p999","p9999","max"},
//                 "submit_ns": {same keys}, "mallocs_per_op", "threads_created",
//                 "minor_faults", "ctx_switches",
//                 "cpu_ns_per_op", "worker_cpu_ns_per_op", "process_cpu_ns", "worker_cpu_ns",
//                 "cpu_unaccounted_ns", "engine_threads", "handoff",
//                 "verified_reads", "verify_errors", "read_errors"}],
//    "load_average": "1m 5m 15m" (at the end of the scenario)}
// cpu_ns_per_op = process user+system CPU (RUSAGE_SELF; plus any task time RUSAGE_SELF missed,
//   cpu_unaccounted_ns) over the recorded phase / reads; worker_cpu_ns_per_op = CPU of the
//   engine's own threads (tasks created since start, per-task schedstat) / reads.
// engine_threads: ["iou-wrk x2 (FIFO 20, cpus 0-1)", ...] at the end of the recorded phase.
// latency/interference entries also have "submitter" (mode), "submitter_runqueue_ns" (the
//   submitter's run-queue wait, schedstat) and "submitter_involuntary_switches" (RUSAGE_THREAD).
// ctx_switches = voluntary + involuntary (getrusage RUSAGE_SELF, process-wide, measured window).
// throughput: one "engines" entry per engine x depth, each with an extra "depth" key.
// burst: extra keys per entry: "worker_cpus" (distinct Cpus_allowed_list values of the threads
//   that appeared since engine start, e.g. ["0-1"]), "submit_thread_creates" (median threads
//   the process created during the submit loop, from /proc/self/stat), "submitter_thread_creates"
//   (median threads the submitting thread itself created in the submit loop, counted per thread
//   by the pthread_create interposer), "submit_total_ns", "first_completion_ns",
//   "last_completion_ns" (medians over repetitions), "repetitions", "burst_size";
//   latency_ns is per-read time from the burst's first submit to that read's completion;
//   iops = reads / sum of time-to-last-completion.
// The default run (no subcommand) writes one file per scenario in the results folder, and
// `--json FILE` gets a JSON array of the three scenario documents.

import Foundation
import Histogram

// MARK: formatting

func formatMicros(_ ns: Double) -> String {
    let us = ns / 1000
    if us < 10 { return String(format: "%.2f", us) }
    if us < 1000 { return String(format: "%.1f", us) }
    return String(format: "%.0f", us)
}

func formatCount(_ v: Double) -> String {
    if v >= 1e6 { return String(format: "%.2fM", v / 1e6) }
    if v >= 1e4 { return String(format: "%.1fk", v / 1e3) }
    return String(format: "%.0f", v)
}

let percentileKeys: [(key: String, label: String, p: Double)] = [
    ("p50", "p50", 50), ("p90", "p90", 90), ("p99", "p99", 99),
    ("p999", "p99.9", 99.9), ("p9999", "p99.99", 99.99),
]

func percentileValue(_ h: Histogram<UInt64>, _ p: Double) -> Double {
    h.totalCount == 0 ? 0 : Double(h.valueAtPercentile(p))
}

/// What each engine is, as far as the critical thread is concerned: does the read run on another
/// thread (a hand-off) or on the submitter?
func engineHandoffLabel(_ name: String) -> String {
    switch name {
    case "sync": return "no hand-off: pread on the submitter"
    case "io_uring": return "inline, no hand-off: page-cached reads complete inside the submitter's io_uring_enter"
    case "io_uring-async": return "hand-off to io-wq kernel workers (IOSQE_ASYNC), waits in io_uring_wait_cqe"
    case "io_uring-sqpoll": return "hand-off to the SQPOLL kernel thread pinned to the worker CPU, waits in io_uring_wait_cqe"
    case "glibc-aio": return "hand-off to glibc's AIO helpers (created in aio_read by the submitter), waits in aio_suspend"
    case "nio-pool": return "hand-off to NIOThreadPool threads (created in start, unpinned)"
    case "handoff-floor": return "the floor, not a product: one SCHED_OTHER thread pinned to the other CPU spins, unbounded, on a one-line-per-request ring (request and result share the line)"
    case "prealloc-spin": return "hand-off to one preallocated worker (FIFO 10, pinned to the other CPU, spins 1 ms, rests in 50 µs slices; the waiting submitter serves its read itself (serveHere) when the worker rests or has taken nothing for 2 µs)"
    case "prealloc-park": return "hand-off to one preallocated worker (FIFO 10, pinned to the other CPU, parks at once)"
    case "prealloc-group": return "hand-off to a group of min(depth,32) preallocated workers (FIFO 10, the other CPU, park at once)"
    case "prealloc-group-float": return "hand-off to a group of min(depth,32) preallocated workers (FIFO 10, any CPU incl. the submitter's, park at once)"
    case "prealloc-ring": return "hand-off to one preallocated worker (FIFO 10, pinned to the other CPU, spins 100 µs) that keeps up to 32 reads in flight in its own io_uring"
    case "ondemand": return "hand-off to on-demand workers (spawner thread, unpinned)"
    case "prepatch": return "hand-off to threads the submitter creates in submit (QEMU pre-2011 bug, inherit its pin)"
    default: return "?"
    }
}

// MARK: machine

struct MachineInfo {
    var kernel: String
    var cpus: Int
    var cpuModel: String
    var swiftVersion: String
    var date: String

    static func current() -> MachineInfo {
        var u = utsname()
        uname(&u)
        func field<T>(_ t: T) -> String {
            withUnsafeBytes(of: t) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        var model = "unknown"
        if let info = readSmallFile("/proc/cpuinfo"),
           let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            model = line[line.index(after: colon)...].trimmingCharacters()
        }
        let formatter = ISO8601DateFormatter()
        return MachineInfo(kernel: "\(field(u.sysname)) \(field(u.release))", cpus: onlineCPUCount(),
                           cpuModel: model, swiftVersion: compilerVersion(), date: formatter.string(from: Date()))
    }

    var json: [String: Any] {
        ["kernel": kernel, "cpus": cpus, "cpu_model": cpuModel, "swift_version": swiftVersion, "date": date]
    }
}

func compilerVersion() -> String {
    #if compiler(>=6.4)
    return "6.4+"
    #elseif compiler(>=6.3.1)
    return "6.3.1"
    #elseif compiler(>=6.3)
    return "6.3"
    #elseif compiler(>=6.2)
    return "6.2"
    #else
    return "<6.2"
    #endif
}

// MARK: scenario report

struct ScenarioReport {
    var scenario: String
    var title: String
    var results: [EngineResult]
    var burstSize: Int? = nil
    var repetitions: Int? = nil
    /// /proc/loadavg when the scenario finished.
    var loadAverage: String? = nil
    /// The engine the ratio column divides by (falls back to the first engine that ran).
    var referenceName = "prealloc-spin"

    var isOpenLoop: Bool { scenario == "latency" || scenario == "interference" }

    /// The ratio reference: `referenceName` (prealloc-spin; io_uring with --direct) if it ran,
    /// else the first engine that ran.
    func reference(depth: Int?) -> EngineResult? {
        let ran = results.filter { $0.skipped == nil && $0.depth == depth && $0.ops > 0 }
        return ran.first { $0.name == referenceName } ?? ran.first
    }

    var ratioLabel: String {
        switch scenario {
        case "throughput": return "iops/ref"
        case "burst": return "last/ref"
        default: return "p99/ref"
        }
    }

    func ratio(_ r: EngineResult) -> Double? {
        guard let ref = reference(depth: r.depth), r.skipped == nil, r.ops > 0 else { return nil }
        switch scenario {
        case "throughput": return ref.iops > 0 ? r.iops / ref.iops : nil
        case "burst":
            guard let a = r.burstLastNs, let b = ref.burstLastNs, b > 0 else { return nil }
            return a / b
        default:
            let b = percentileValue(ref.latency, 99)
            return b > 0 ? percentileValue(r.latency, 99) / b : nil
        }
    }

    // MARK: table

    func table() -> String {
        var header = ["engine"]
        if scenario == "throughput" { header.append("depth") }
        header += ["iops", "p50", "p90", "p99", "p99.9", "p99.99", "max", "sub p50", "sub p99",
                   "mallocs/op", "threads", "minflt", "ctxsw"]
        let showCPU = scenario != "burst"
        if showCPU { header += ["cpu/IO", "wrk/IO"] }
        if isOpenLoop { header += ["sub rq", "sub nivcsw", "wake p99"] }
        header.append(ratioLabel)
        var rows: [[String]] = []
        var notes: [String] = []
        for r in results {
            var row = [r.name]
            if scenario == "throughput" { row.append(r.depth.map(String.init) ?? "-") }
            if let reason = r.skipped {
                row.append("skipped")
                notes.append("\(r.name): skipped: \(reason)")
                rows.append(row + Array(repeating: "", count: header.count - row.count))
                continue
            }
            row.append(formatCount(r.iops))
            for k in percentileKeys { row.append(formatMicros(percentileValue(r.latency, k.p))) }
            row.append(formatMicros(Double(r.latency.max)))
            row.append(formatMicros(percentileValue(r.submit, 50)))
            row.append(formatMicros(percentileValue(r.submit, 99)))
            row.append(String(format: "%.2f", r.mallocsPerOp))
            row.append(String(r.threadsCreated))
            row.append(String(r.minorFaults))
            row.append(String(r.ctxSwitches))
            if showCPU {
                row.append(formatMicros(r.cpuNsPerOp))
                row.append(formatMicros(r.workerCPUNsPerOp))
            }
            if isOpenLoop {
                row.append(formatMicros(Double(r.submitterRunQueueNs)))
                row.append(String(r.submitterInvoluntary))
                row.append(r.wakeLateness.totalCount == 0 ? "-" : formatMicros(percentileValue(r.wakeLateness, 99)))
            }
            row.append(ratio(r).map { String(format: "%.2fx", $0) } ?? "-")
            rows.append(row)
            if r.verifyErrors > 0 || r.readErrors > 0 {
                notes.append("\(r.name): VERIFY FAILED: \(r.verifyErrors) pattern mismatches in \(r.verified) checked reads, \(r.readErrors) short/failed reads")
            }
        }
        var widths = header.map(\.count)
        for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                i == 0 ? c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                       : String(repeating: " ", count: widths[i] - c.count) + c
            }.joined(separator: "  ")
        }
        var out = "== \(title)\n"
        out += "   latency and submit columns in µs; ctxsw = voluntary+involuntary (process-wide); "
        if let ref = reference(depth: results.first?.depth) { out += "ratio reference: \(ref.name)\n" } else { out += "\n" }
        if showCPU {
            out += "   cpu/IO = process CPU (user+sys) per read, wrk/IO = the engine's own threads' CPU per read (µs)"
            out += isOpenLoop ? "; sub rq = submitter's run-queue wait over the run (µs), sub nivcsw = its involuntary switches, wake p99 = its clock_nanosleep overshoot (not counted in latency)\n" : "\n"
        }
        if let loadAverage { out += "   load average: \(loadAverage)\n" }
        out += line(header) + "\n"
        out += line(widths.map { String(repeating: "-", count: $0) }) + "\n"
        for row in rows { out += line(row) + "\n" }
        if scenario == "burst" {
            out += "\n   burst of \(burstSize ?? 0) reads from a fresh engine, submitter on CPU 1, medians over \(repetitions ?? 0) reps:\n"
            out += "   proc-created = threads the process created during the submit loop (any thread, /proc/self/stat);\n"
            out += "   by-submitter = threads the submitting thread itself created there (pthread_create interposer, per thread)\n"
            var bw = 10
            for r in results { bw = max(bw, r.name.count) }
            out += "   " + "engine".padding(toLength: bw, withPad: " ", startingAt: 0)
                + "  submit-total(µs)  first(µs)   last(µs)  proc-created  by-submitter  worker Cpus_allowed_list\n"
            for r in results where r.skipped == nil {
                out += "   " + r.name.padding(toLength: bw, withPad: " ", startingAt: 0)
                func lpad(_ t: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - t.count)) + t }
                out += "  " + lpad(formatMicros(r.burstSubmitTotalNs ?? 0), 16)
                out += "  " + lpad(formatMicros(r.burstFirstNs ?? 0), 9)
                out += "  " + lpad(formatMicros(r.burstLastNs ?? 0), 9)
                out += "  " + lpad(String(format: "%.1f", r.submitThreadCreates ?? 0), 12)
                out += "  " + lpad(String(format: "%.1f", r.submitterThreadCreates ?? 0), 12)
                let cpus = r.workerCPUs ?? []
                out += "  " + (cpus.isEmpty ? "(no worker threads)" : cpus.joined(separator: " ")) + "\n"
            }
        }
        for n in notes { out += "   ! \(n)\n" }
        if scenario != "burst" {
            // Which engine hands off, and where its threads ran (observed at the end of the run).
            // The deepest run of each engine (throughput lists one entry per depth).
            var seen = Set<String>()
            out += "   engines (hand-off; threads seen at the end of its \(scenario == "throughput" ? "deepest " : "")run: name xcount (policy, allowed CPUs)):\n"
            for first in results where first.skipped == nil && !seen.contains(first.name) {
                seen.insert(first.name)
                let r = results.last { $0.name == first.name && $0.skipped == nil } ?? first
                let threads = r.engineThreads.isEmpty ? "none" : r.engineThreads.joined(separator: "; ")
                out += "     \(r.name): \(engineHandoffLabel(r.name)); threads: \(threads)\n"
            }
        }
        return out
    }

    // MARK: JSON

    func jsonObject(machine: MachineInfo) -> [String: Any] {
        func pct(_ h: Histogram<UInt64>) -> [String: Any] {
            var d: [String: Any] = [:]
            for k in percentileKeys { d[k.key] = Int(percentileValue(h, k.p)) }
            d["max"] = Int(h.totalCount == 0 ? 0 : h.max)
            return d
        }
        let engines: [[String: Any]] = results.map { r in
            var e: [String: Any] = ["name": r.name, "skipped": r.skipped.map { $0 as Any } ?? NSNull()]
            if r.skipped == nil {
                e["iops"] = (r.iops * 10).rounded() / 10
                e["latency_ns"] = pct(r.latency)
                e["submit_ns"] = pct(r.submit)
                e["mallocs_per_op"] = (r.mallocsPerOp * 1000).rounded() / 1000
                e["threads_created"] = r.threadsCreated
                e["minor_faults"] = r.minorFaults
                e["ctx_switches"] = r.ctxSwitches
                e["cpu_ns_per_op"] = Int(r.cpuNsPerOp.rounded())
                e["worker_cpu_ns_per_op"] = Int(r.workerCPUNsPerOp.rounded())
                e["process_cpu_ns"] = Int(r.processCPUNs)
                e["worker_cpu_ns"] = Int(r.workerCPUNs)
                e["cpu_unaccounted_ns"] = Int(r.cpuUnaccountedNs)
                e["engine_threads"] = r.engineThreads
                e["verified_reads"] = r.verified
                e["verify_errors"] = r.verifyErrors
                e["read_errors"] = r.readErrors
                if isOpenLoop {
                    e["submitter"] = r.submitterMode ?? ""
                    e["submitter_runqueue_ns"] = Int(r.submitterRunQueueNs)
                    e["submitter_involuntary_switches"] = r.submitterInvoluntary
                    e["submitter_wake_late_ns"] = pct(r.wakeLateness)
                }
            } else {
                e["iops"] = NSNull(); e["latency_ns"] = NSNull(); e["submit_ns"] = NSNull()
                e["mallocs_per_op"] = NSNull(); e["threads_created"] = NSNull()
                e["minor_faults"] = NSNull(); e["ctx_switches"] = NSNull()
            }
            if let d = r.depth { e["depth"] = d }
            e["handoff"] = engineHandoffLabel(r.name)
            if scenario == "burst" {
                e["worker_cpus"] = r.workerCPUs ?? []
                e["submit_thread_creates"] = r.submitThreadCreates ?? 0
                e["submitter_thread_creates"] = r.submitterThreadCreates ?? 0
                e["submit_total_ns"] = Int(r.burstSubmitTotalNs ?? 0)
                e["first_completion_ns"] = Int(r.burstFirstNs ?? 0)
                e["last_completion_ns"] = Int(r.burstLastNs ?? 0)
                e["repetitions"] = repetitions ?? 0
                e["burst_size"] = burstSize ?? 0
            }
            return e
        }
        var doc: [String: Any] = ["scenario": scenario, "machine": machine.json, "engines": engines]
        if let loadAverage { doc["load_average"] = loadAverage }
        return doc
    }

    // MARK: files

    /// Writes <scenario>.json, one .hgrm per engine (per depth for throughput) and <scenario>.svg
    /// into `dir`. Returns the paths written.
    func writeFiles(to dir: String, machine: MachineInfo) throws -> [String] {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var written: [String] = []
        let jsonPath = "\(dir)/\(scenario).json"
        try jsonData(jsonObject(machine: machine)).write(to: URL(fileURLWithPath: jsonPath))
        written.append(jsonPath)
        var series: [(String, Histogram<UInt64>)] = []
        for r in results where r.skipped == nil && r.latency.totalCount > 0 {
            let label = r.depth.map { "\(r.name) d=\($0)" } ?? r.name
            let file = r.depth.map { "\(scenario)-d\($0)-\(r.name).hgrm" } ?? "\(scenario)-\(r.name).hgrm"
            var text = ""
            r.latency.outputPercentileDistribution(to: &text, outputValueUnitScalingRatio: 1000.0)
            let path = "\(dir)/\(file)"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            written.append(path)
            series.append((label, r.latency))
        }
        let svgPath = "\(dir)/\(scenario).svg"
        try latencyPlotSVG(title: title, series: series).write(toFile: svgPath, atomically: true, encoding: .utf8)
        written.append(svgPath)
        return written
    }
}

func jsonData(_ object: Any) throws -> Data {
    try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
}

// MARK: SVG plot

/// Latency by percentile, HdrHistogram-plotter style: x = log10(1/(1-percentile)) labelled
/// 0%, 90%, 99%, 99.9%...; y = latency in µs on a log scale (the engines span decades).
func latencyPlotSVG(title: String, series: [(String, Histogram<UInt64>)]) -> String {
    let width = 960.0, height = 540.0
    let left = 80.0, right = 220.0, top = 50.0, bottom = 70.0
    let plotW = width - left - right, plotH = height - top - bottom
    let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                   "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

    // Collect points (x in decades, y in µs).
    var lines: [(String, [(Double, Double)])] = []
    var maxX = 2.0
    var minY = Double.infinity, maxY = 0.0
    for (name, h) in series {
        let n = Double(h.totalCount)
        let xCap = max(1.0, log10(max(n, 10)))
        var pts: [(Double, Double)] = []
        for iv in h.percentiles(ticksPerHalfDistance: 5) {
            let p = iv.percentileLevelIteratedTo / 100
            guard p < 1 else { break }
            let x = log10(1 / (1 - p))
            if x > xCap { break }
            let y = max(Double(iv.value) / 1000, 0.01)
            pts.append((x, y))
        }
        let yMax = max(Double(h.max) / 1000, 0.01)
        pts.append((xCap, yMax))  // the max, at the last percentile the sample count resolves
        maxX = max(maxX, xCap)
        for (_, y) in pts { minY = min(minY, y); maxY = max(maxY, y) }
        lines.append((name, pts))
    }
    if lines.isEmpty { minY = 1; maxY = 10 }
    let xMax = ceil(maxX)
    let yLo = pow(10, floor(log10(minY))), yHi = pow(10, ceil(log10(maxY * 1.0001)))
    func sx(_ x: Double) -> Double { left + x / xMax * plotW }
    func sy(_ y: Double) -> Double {
        top + plotH - (log10(y) - log10(yLo)) / (log10(yHi) - log10(yLo)) * plotH
    }
    func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
    var s = """
    <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
    <rect width="100%" height="100%" fill="white"/>
    <text x="\(left + plotW / 2)" y="28" text-anchor="middle" font-size="16" font-weight="bold">\(esc(title))</text>

    """
    // Grid and x ticks.
    var d = 0.0
    while d <= xMax + 1e-9 {
        let x = sx(d)
        let label: String
        if d == 0 { label = "0%" } else {
            let digits = Int(d) - 2
            label = digits <= 0 ? "\(Int(100 - 100 / pow(10, d)))%" : "99." + String(repeating: "9", count: digits) + "%"
        }
        s += "<line x1=\"\(x)\" y1=\"\(top)\" x2=\"\(x)\" y2=\"\(top + plotH)\" stroke=\"#ddd\"/>\n"
        s += "<text x=\"\(x)\" y=\"\(top + plotH + 18)\" text-anchor=\"middle\">\(label)</text>\n"
        d += 1
    }
    // y ticks: 1, 2, 5 x 10^k.
    var decade = yLo
    while decade <= yHi * 1.0001 {
        for m in [1.0, 2.0, 5.0] {
            let v = decade * m
            guard v >= yLo * 0.999, v <= yHi * 1.001 else { continue }
            let y = sy(v)
            s += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(left + plotW)\" y2=\"\(y)\" stroke=\"\(m == 1 ? "#ccc" : "#eee")\"/>\n"
            let text = v >= 1 ? String(format: "%.0f", v) : String(format: "%g", v)
            s += "<text x=\"\(left - 8)\" y=\"\(y + 4)\" text-anchor=\"end\">\(text)</text>\n"
        }
        decade *= 10
    }
    s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"#333\"/>\n"
    s += "<text x=\"\(left + plotW / 2)\" y=\"\(height - 22)\" text-anchor=\"middle\" font-size=\"13\">percentile (log scale of 1/(1-percentile))</text>\n"
    s += "<text transform=\"translate(22 \(top + plotH / 2)) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">latency (µs, log scale)</text>\n"
    // Lines and legend.
    for (i, (name, pts)) in lines.enumerated() {
        let color = palette[i % palette.count]
        let pattern = ["", "7 4", "2 3"][(i / palette.count) % 3]  // solid, dashed, dotted cycles
        let dash = pattern.isEmpty ? "" : " stroke-dasharray=\"\(pattern)\""
        let path = pts.map { String(format: "%.1f,%.1f", sx($0.0), sy($0.1)) }.joined(separator: " ")
        s += "<polyline fill=\"none\" stroke=\"\(color)\"\(dash) stroke-width=\"2\" points=\"\(path)\"/>\n"
        let ly = top + 10 + Double(i) * min(20, (plotH - 10) / Double(max(1, lines.count)))
        s += "<line x1=\"\(left + plotW + 15)\" y1=\"\(ly)\" x2=\"\(left + plotW + 40)\" y2=\"\(ly)\" stroke=\"\(color)\"\(dash) stroke-width=\"3\"/>\n"
        s += "<text x=\"\(left + plotW + 46)\" y=\"\(ly + 4)\">\(esc(name))</text>\n"
    }
    s += "</svg>\n"
    return s
}
