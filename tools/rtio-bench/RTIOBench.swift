// rtio-bench: compares I/O engines doing 4 KiB reads of a page-cached file.
//
//   rtio-bench                      default comparison: latency + throughput + burst, short (< 90 s)
//   rtio-bench latency              open loop at --rate reads/s, coordinated-omission corrected
//   rtio-bench throughput           closed loop at each of --depths
//   rtio-bench interference         latency while --hogs spinning threads share the submitter's CPU
//   rtio-bench burst                64 reads at once from a fresh engine, --reps times, medians
//   rtio-bench ring                 submission-ring microbenchmark (RingCommand.swift)
//   rtio-bench --direct             O_DIRECT reads of a file in the working directory (block
//                                   device), throughput at --depths (1,8,32); also `throughput --direct`
//
// --submitter fifo:N|other|spin     the open-loop submitter (SubmitterMode.swift); latency
//                                   defaults to fifo:20 when SCHED_FIFO is permitted, interference
//                                   to other
//
// Results: a table on stdout; <out>/<scenario>.json, one .hgrm per engine, <scenario>.svg;
// --json FILE copies the JSON (see Output.swift for its shape).

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ArgumentParser
import RealtimeIO
import Synchronization
import CRealtimeIOShims

@main
struct RTIOBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtio-bench",
        abstract: "Compare I/O engines doing 4 KiB reads of a page-cached file.",
        discussion: "With no subcommand: the default comparison (latency, throughput, burst; short durations).",
        version: RealtimeIOVersion.string,
        subcommands: [LatencyCommand.self, ThroughputCommand.self, InterferenceCommand.self,
                      BurstCommand.self, RingCommand.self])

    @OptionGroup var options: CommonOptions

    func run() throws {
        let duration = options.duration ?? 2
        if options.direct {
            try runPlans([.throughput(duration: options.duration ?? 2)], options: options)
            return
        }
        let plan: [ScenarioPlan] = [
            .latency(duration: duration, hogs: 0),
            .throughput(duration: options.duration ?? 1),
            .burst(reps: options.reps ?? 5),
        ]
        try runPlans(plan, options: options)
    }
}

struct CommonOptions: ParsableArguments {
    @Option(help: "Comma-separated engines to run (default: all registered).")
    var engines: String?
    @Option(help: "Measured seconds per engine run (per depth in throughput).")
    var duration: Double?
    @Option(help: "Unmeasured warm-up seconds before each measured run.")
    var warmup: Double = 0.3
    @Option(help: "Also write the JSON result to this file.")
    var json: String?
    @Option(help: "Results folder (default: rtio-results/<timestamp>).")
    var out: String?
    @Option(name: .customLong("file-size"), help: "Test file size in MiB (default 64; 256 with --direct).")
    var fileSizeOption: Int?
    var fileSize: Int { fileSizeOption ?? (direct ? 256 : 64) }
    @Flag(help: "O_DIRECT reads of a file created in the working directory (a block device, not the page cache). With no subcommand: throughput only.")
    var direct = false
    @Option(help: "Open-loop submitter: fifo:N (SCHED_FIFO, sleeps between arrivals), other (sleeps), spin (busy-waits). Default for latency: fifo:20 when permitted, else other.")
    var submitter: String?
    @Option(help: "Arrival rate in reads/s for latency and interference.")
    var rate: Double = 20_000
    @Option(help: "Queue depths for throughput, comma-separated.")
    var depths: String = "1,8,32"
    @Option(help: "Max reads in flight in the open loop (latency, interference).")
    var maxInFlight: Int = 64
    @Option(help: "CPU-hog threads for interference (pinned to the submitter's CPU).")
    var hogs: Int = 1
    @Option(help: "Burst repetitions (fresh engine each).")
    var reps: Int?
    @Option(help: "Reads per burst.")
    var burst: Int = 64

    func selectedEngineNames() throws -> [String] {
        let known = allEngineNames()
        guard let engines, !engines.isEmpty else {
            return direct ? known : known.filter { !directOnlyEngineNames.contains($0) }
        }
        let wanted = engines.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for name in wanted where !known.contains(name) {
            throw ValidationError("unknown engine '\(name)'; known: \(known.joined(separator: ","))")
        }
        return wanted
    }

    /// The open-loop submitter mode, and a note to print when the default fell back.
    func submitterMode() throws -> (SubmitterMode, note: String?) {
        if let submitter { return (try SubmitterMode(parsing: submitter), nil) }
        return SubmitterMode.latencyDefault()
    }

    func depthList() throws -> [Int] {
        let list = depths.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !list.isEmpty, list.allSatisfy({ $0 > 0 }) else { throw ValidationError("bad --depths '\(depths)'") }
        return list
    }

    func resultsFolder() -> String {
        if let out { return out }
        var t = time(nil)
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 32)
        strftime(&buf, 32, "%Y%m%d-%H%M%S", &tmv)
        return "rtio-results/" + String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

struct LatencyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "latency",
        abstract: "Open-loop latency at a fixed arrival rate (submitter pinned to CPU 0).")
    @OptionGroup var options: CommonOptions
    func run() throws { try runPlans([.latency(duration: options.duration ?? 5, hogs: 0)], options: options) }
}

struct ThroughputCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "throughput",
        abstract: "Closed-loop IOPS and latency at each queue depth (--direct: O_DIRECT device reads).")
    @OptionGroup var options: CommonOptions
    func run() throws { try runPlans([.throughput(duration: options.duration ?? 2)], options: options) }
}

struct InterferenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "interference",
        abstract: "Open-loop latency while CPU-hog threads spin on the submitter's CPU.")
    @OptionGroup var options: CommonOptions
    func run() throws {
        try runPlans([.latency(duration: options.duration ?? 5, hogs: max(1, options.hogs))], options: options)
    }
}

struct BurstCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "burst",
        abstract: "64 reads at once from a fresh engine (submitter on CPU 1); medians over repetitions.")
    @OptionGroup var options: CommonOptions
    func run() throws { try runPlans([.burst(reps: options.reps ?? 20)], options: options) }
}

// MARK: running

enum ScenarioPlan {
    case latency(duration: Double, hogs: Int)
    case throughput(duration: Double)
    case burst(reps: Int)
}

/// Runs the scenarios, prints their tables, writes the results folder and --json.
func runPlans(_ plans: [ScenarioPlan], options: CommonOptions) throws {
    let names = try options.selectedEngineNames()
    let depths = try options.depthList()
    let machine = MachineInfo.current()
    let folder = options.resultsFolder()
    let (submitter, submitterNote) = try options.submitterMode()
    let progress = Progress()
    defer { progress.finish() }
    if let submitterNote, plans.contains(where: { if case .latency = $0 { return true } else { return false } }) {
        print("note: \(submitterNote)")
    }

    // Step count for the progress line.
    var totalSteps = 0
    for plan in plans {
        switch plan {
        case .latency: totalSteps += names.count
        case .throughput: totalSteps += names.count * depths.count
        case .burst: totalSteps += names.count
        }
    }
    progress.totalSteps = totalSteps

    let file: TestFile
    if options.direct {
        progress.note("creating \(options.fileSize) MiB O_DIRECT test file in \(FileManager.default.currentDirectoryPath)")
        file = try TestFile(sizeMiB: options.fileSize, directory: ".", direct: true)
    } else {
        progress.note("creating \(options.fileSize) MiB test file and reading it into the page cache")
        file = try TestFile(sizeMiB: options.fileSize)
    }
    let source = options.direct ? "O_DIRECT device reads (\(blockDeviceOfWorkingDirectory()))" : "page-cache reads"
    let params = { (d: Double) in
        LoopParams(durationNs: UInt64(d * 1e9), warmupNs: UInt64(max(0, options.warmup) * 1e9),
                   submitterCPU: 0, fileSizeMiB: options.fileSize, submitter: submitter)
    }
    print("rtio-bench \(RealtimeIOVersion.string): \(machine.cpus) CPUs, \(machine.kernel), \(source); load average at start: \(loadAverage())")
    var reports: [ScenarioReport] = []

    for plan in plans {
        var report: ScenarioReport
        switch plan {
        case let .latency(duration, hogs):
            let scenario = hogs > 0 ? "interference" : "latency"
            report = ScenarioReport(scenario: scenario, title: hogs > 0
                ? "interference: \(Int(options.rate)) reads/s open loop, \(hogs) CPU hog(s) on CPU 0, submitter \(options.submitter == nil ? SubmitterMode.other : submitter), \(duration)s"
                : "latency: \(Int(options.rate)) reads/s open loop, submitter on CPU 0, \(submitter), \(duration)s", results: [])
            for name in names {
                progress.step("\(scenario) \(name)", seconds: duration + options.warmup)
                let engine = makeEngine(named: name)!
                if let reason = engine.skipReason { report.results.append(EngineResult(name: name, skipped: reason)); continue }
                let hogThreads = hogs > 0 ? CPUHogs(count: hogs, cpu: 0, maxSeconds: duration + options.warmup + 10) : nil
                var p = params(duration)
                // Interference asks what hogs on the submitter's CPU do to an ordinary submitter:
                // a SCHED_FIFO one would simply preempt them. Default there: `other`.
                if hogs > 0 && options.submitter == nil { p.submitter = .other }
                let box = UnsafeTransfer(engine)
                let r = BenchThread.run(cpu: nil) {
                    runOpenLoop(engine: box.value, file: file, rate: options.rate,
                                maxInFlight: max(1, options.maxInFlight), params: p)
                }
                hogThreads?.stop()
                report.results.append(r)
            }
        case let .throughput(duration):
            report = ScenarioReport(scenario: "throughput",
                title: "throughput\(options.direct ? " (O_DIRECT)" : ""): closed loop at depth \(depths.map(String.init).joined(separator: ",")), submitter on CPU 0, \(duration)s each", results: [])
            // Device reads: the question is how close a hand-off gets to io_uring's IOPS.
            if options.direct { report.referenceName = "io_uring" }
            for depth in depths {
                for name in names {
                    progress.step("throughput d=\(depth) \(name)", seconds: duration + options.warmup)
                    let engine = makeEngine(named: name)!
                    if let reason = engine.skipReason {
                        report.results.append(EngineResult(name: name, skipped: reason, depth: depth)); continue
                    }
                    if options.direct && name == "sync" && depth > 1 {
                        report.results.append(EngineResult(name: name, skipped: "pread on the submitter keeps one read in flight: see depth 1", depth: depth)); continue
                    }
                    let p = params(duration)
                    let box = UnsafeTransfer(engine)
                    report.results.append(BenchThread.run(cpu: nil) {
                        runClosedLoop(engine: box.value, file: file, depth: depth, params: p)
                    })
                }
            }
        case let .burst(reps):
            report = ScenarioReport(scenario: "burst",
                title: "burst: \(options.burst) reads at once from a fresh engine, submitter on CPU 1, \(reps) reps",
                results: [], burstSize: options.burst, repetitions: reps)
            for name in names {
                progress.step("burst \(name)", seconds: nil)
                report.results.append(runBurst(name: name, file: file, reps: max(1, reps), burst: max(1, options.burst)))
            }
        }
        progress.clear()
        report.loadAverage = loadAverage()
        print(report.table())
        flushStdout()
        let written = try report.writeFiles(to: folder, machine: machine)
        print("   wrote \(written.count) files to \(folder)/ (\(report.scenario).json, .hgrm, \(report.scenario).svg)\n")
        reports.append(report)
    }

    if let jsonPath = options.json {
        let objects = reports.map { $0.jsonObject(machine: machine) }
        let data = try jsonData(objects.count == 1 ? objects[0] : objects)
        try data.write(to: URL(fileURLWithPath: jsonPath))
        print("JSON written to \(jsonPath)")
    }
    let failures = reports.flatMap(\.results).filter { $0.verifyErrors > 0 || $0.readErrors > 0 }
    if !failures.isEmpty {
        throw ValidationError("read verification failed for: \(failures.map(\.name).joined(separator: ", "))")
    }
}

/// /proc/loadavg's three averages, e.g. "0.52 0.61 0.58".
func loadAverage() -> String {
    guard let text = readSmallFile("/proc/loadavg") else { return "?" }
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}

/// The device the working directory lives on (from /proc/self/mountinfo), for the --direct label.
func blockDeviceOfWorkingDirectory() -> String {
    var st = stat()
    guard stat(".", &st) == 0, let info = readSmallFile("/proc/self/mountinfo") else { return "?" }
    // glibc's major()/minor() are macros: the Linux dev_t encoding.
    let dev = UInt64(st.st_dev)
    let devText = "\((dev >> 8) & 0xfff | (dev >> 32) & ~0xfff):\(dev & 0xff | (dev >> 12) & ~0xff)"
    for line in info.split(separator: "\n") {
        let f = line.split(separator: " ")
        guard f.count > 9, f[2] == devText, let dash = f.firstIndex(of: "-"), dash + 2 < f.count else { continue }
        return "\(f[dash + 2]) \(f[dash + 1]) at \(f[4])"
    }
    return "dev \(devText)"
}

/// Burst scenario for one engine: `reps` fresh engines, each measured on a CPU-1-pinned thread.
func runBurst(name: String, file: TestFile, reps: Int, burst: Int) -> EngineResult {
    if let reason = makeEngine(named: name)?.skipReason { return EngineResult(name: name, skipped: reason) }
    // One owner for the result across reps: a second reference would make the first record() of
    // every rep copy the histograms (copy-on-write), inside the measured window.
    let resultBox = UnsafeTransfer(EngineResult(name: name))
    var submitTotals: [Double] = [], firsts: [Double] = [], lasts: [Double] = []
    var threads: [Double] = [], inSubmit: [Double] = [], bySubmitter: [Double] = []
    var cpus = Set<String>(), taskNames = Set<String>()
    var lastSum: UInt64 = 0
    for _ in 0..<reps {
        let engine = makeEngine(named: name)!
        let box = UnsafeTransfer(engine)
        let rep = BenchThread.run(cpu: nil) {
            runBurstRep(engine: box.value, file: file, burst: burst, cpu: 1, into: &resultBox.value)
        }
        guard let rep else { return resultBox.value }
        submitTotals.append(Double(rep.submitTotalNs))
        firsts.append(Double(rep.firstNs))
        lasts.append(Double(rep.lastNs))
        lastSum &+= rep.lastNs
        threads.append(Double(rep.threadsCreated))
        inSubmit.append(Double(rep.submitThreadCreates))
        bySubmitter.append(Double(rep.submitterThreadCreates))
        for t in rep.newTasks { cpus.insert(t.cpus); taskNames.insert(t.name) }
        // Fresh means cold: let the engine's threads (e.g. glibc's lingering AIO helpers) go.
        waitForTasksToExit(rep.createdDuringLife, maxSeconds: 1.5)
    }
    var result = resultBox.value
    resultBox.value = EngineResult(name: name)
    result.elapsedNs = lastSum
    result.burstSubmitTotalNs = median(submitTotals)
    result.burstFirstNs = median(firsts)
    result.burstLastNs = median(lasts)
    result.threadsCreated = Int(median(threads).rounded())
    result.submitThreadCreates = median(inSubmit)
    result.submitterThreadCreates = median(bySubmitter)
    result.workerCPUs = cpus.sorted()
    result.workerNames = taskNames.sorted()
    return result
}

// MARK: progress

/// A progress line on stderr: `\r`-updated by a background thread when stderr is a TTY, one plain
/// line per step otherwise.
final class Progress: @unchecked Sendable {
    let isTTY = isatty(STDERR_FILENO) != 0
    var totalSteps = 0
    private var stepIndex = 0
    private let state = Mutex<(label: String, startNs: UInt64, seconds: Double?)>(("", 0, nil))
    private let running = Atomic<Bool>(true)
    private var thread: BenchThread?

    init() {
        if isTTY {
            thread = BenchThread(cpu: nil) { [self] in
                while running.load(ordering: .relaxed) {
                    let (label, start, seconds) = state.withLock { $0 }
                    if !label.isEmpty {
                        let elapsed = Double(rtio_monotonic_ns() - start) / 1e9
                        let time = seconds.map { String(format: "%.1f/%.1fs", elapsed, $0) } ?? String(format: "%.1fs", elapsed)
                        fputs("\r\u{1B}[K\(label)  \(time)", standardError())
                    }
                    usleep(200_000)
                }
            }
        }
    }

    func note(_ text: String) {
        if isTTY { fputs("\r\u{1B}[K\(text)", standardError()) } else { fputs("\(text)\n", standardError()) }
    }

    func step(_ label: String, seconds: Double?) {
        stepIndex += 1
        let full = "[\(stepIndex)/\(totalSteps)] \(label)"
        state.withLock { $0 = (full, rtio_monotonic_ns(), seconds) }
        if !isTTY {
            fputs(full + (seconds.map { String(format: " (%.1fs)", $0) } ?? "") + "\n", standardError())
        }
    }

    func clear() {
        state.withLock { $0.label = "" }
        if isTTY { fputs("\r\u{1B}[K", standardError()) }
    }

    func finish() {
        running.store(false, ordering: .relaxed)
        thread?.join()
        thread = nil
        clear()
    }
}

// glibc's stdout/stderr are mutable C globals; Swift 6 wants them read through a function.
func standardError() -> UnsafeMutablePointer<FILE> { fdopenOnce.stderrFile }
func flushStdout() { fflush(nil) }
private let fdopenOnce = StdStreams()
private final class StdStreams: @unchecked Sendable {
    let stderrFile: UnsafeMutablePointer<FILE>
    init() {
        stderrFile = fdopen(STDERR_FILENO, "w")
        setvbuf(stderrFile, nil, _IONBF, 0)
    }
}
