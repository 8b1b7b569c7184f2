import ArgumentParser
import Foundation
import RealtimeIO
import RealtimeIODiagnostics
import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

/// `rtio-admin top [--interval S] [--sort KEY] [--pid PID] [--once | --iterations N]`
///
/// A live view of every running engine, refreshed every interval: per engine
/// its mode, workers and completions per second; per worker its CPU, policy,
/// state, queue depth, completions/s, p50/p99 service time *over the last
/// interval* (the difference of two HDR histogram snapshots), parks/s,
/// demotions and page faults. On a terminal: keys `c` CPU, `n` name, `d`
/// done/s, `p` p99, `q` (or Ctrl-C) quits. Without a terminal (or with
/// `--once`) it prints one frame after one interval and exits; `--iterations N`
/// prints N frames.
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Live view of running engines and their workers.",
        discussion: "Keys: c sort by CPU, n by name, d by completions/s, p by p99, q quit. Without a terminal, or with --once, prints one frame and exits.")

    @Option(name: .long, help: "Refresh interval in seconds (0.1...60).") var interval: Double = 1
    @Option(name: .long, help: "Sort workers by cpu, name, done or p99.") var sort: String = "cpu"
    @Option(name: .long, help: "Only this process.") var pid: String?
    @Flag(name: .long, help: "Print one frame (after one interval) and exit; the default without a terminal.") var once = false
    @Option(name: .long, help: "Print this many frames and exit.") var iterations: Int?

    enum SortKey: String { case cpu, name, done, p99 }

    func validate() throws {
        // ValidationError: ArgumentParser prints it with the usage and exits 64 (EX_USAGE).
        guard (0.1...60).contains(interval) else { throw ValidationError("invalid --interval \(interval): expected 0.1...60 seconds") }
        guard SortKey(rawValue: sort) != nil else { throw ValidationError("invalid --sort '\(sort)': expected cpu, name, done or p99") }
        if let iterations, iterations < 1 { throw ValidationError("invalid --iterations \(iterations): expected 1 or more") }
    }

    func run() throws {
        let only = try pid.map { try Admin.pid($0) }
        var key = SortKey(rawValue: sort)!
        let interactive = !once && iterations == nil && isatty(0) == 1 && isatty(1) == 1
        var sampler = TopSampler(pid: only)
        sampler.sample()
        if !interactive {
            for i in 0..<(iterations ?? 1) {
                usleep(UInt32(interval * 1e6))
                let frame = sampler.sample()
                print((i > 0 ? "\n" : "") + TopView.render(frame, sort: key, interval: interval, width: 160), terminator: "")
                fflush(nil)
            }
            if sampler.permissionProblems { throw ExitCode(AdminExit.noPermission.rawValue) }
            return
        }
        Terminal.enterRaw()
        defer { Terminal.restore() }
        while true {
            if let byte = Terminal.readKey(timeoutMilliseconds: Int32(interval * 1000)) {
                switch byte {
                case UInt8(ascii: "q"), UInt8(ascii: "Q"), 3, 4: return
                case UInt8(ascii: "c"): key = .cpu
                case UInt8(ascii: "n"): key = .name
                case UInt8(ascii: "d"): key = .done
                case UInt8(ascii: "p"): key = .p99
                default: break
                }
            }
            let frame = sampler.sample()
            let text = TopView.render(frame, sort: key, interval: interval, width: Terminal.columns())
            FileHandle.standardOutput.write(Data(("\u{1B}[H\u{1B}[2J" + text.replacingOccurrences(of: "\n", with: "\r\n")
                + "\r\nkeys: c cpu  n name  d done/s  p p99  q quit   sorted by \(key.rawValue)").utf8))
        }
    }
}

/// Two consecutive snapshots of every engine, for rates and interval percentiles.
struct TopSampler {
    struct WorkerSample {
        var completed: UInt64
        var parks: UInt64
        var service: [UInt64]
    }
    struct Row {
        var engine: EngineView
        var worker: EngineView.Worker
        var donePerInterval: UInt64
        var parksPerInterval: UInt64
        var p50: UInt64?
        var p99: UInt64?
    }
    struct Frame {
        var engines: [EngineView]
        var rows: [Row]
        var seconds: Double
    }

    var pid: Int32?
    var readers: [String: StatusFileReader] = [:]
    var previous: [String: WorkerSample] = [:]
    var lastTime = Date()
    var lastDiscovery: Date?
    var permissionProblems = false

    /// Without `--pid`, a full discovery reads every process's `/proc/PID/maps`
    /// (about 13 % of a CPU at a 0.2 s refresh); in between, engines already
    /// found are kept while their process lives. New engines appear within this.
    static let rediscoverEvery: TimeInterval = 2

    init(pid: Int32?) { self.pid = pid }

    @discardableResult
    mutating func sample() -> Frame {
        let start = Date()
        if pid != nil || lastDiscovery.map({ start.timeIntervalSince($0) >= Self.rediscoverEvery }) ?? true {
            lastDiscovery = start
            let found = StatusFile.discover(only: pid)
            permissionProblems = !found.problems.isEmpty
            var live: [String: StatusFileReader] = [:]
            for s in found.summaries where !s.stale {
                live[s.path] = readers[s.path] ?? (try? StatusFileReader(path: s.path))
            }
            readers = live
        } else {
            // A process that exited drops out at once; kill(pid, 0) is one syscall per engine.
            readers = readers.filter { kill($0.value.summary.pid, 0) == 0 || errno != ESRCH }
        }
        let live = readers
        let now = Date()
        let seconds = now.timeIntervalSince(lastTime)
        lastTime = now
        var engines: [EngineView] = []
        var rows: [Row] = []
        var next: [String: WorkerSample] = [:]
        for path in live.keys.sorted() {
            guard let reader = live[path] else { continue }
            let e = EngineView(reader)
            engines.append(e)
            for w in e.workers {
                let key = "\(path)#\(w.name)"
                let s = WorkerSample(completed: w.completed, parks: w.parks, service: w.serviceBuckets)
                next[key] = s
                let p = previous[key]
                let delta = zip(s.service, p?.service ?? Array(repeating: 0, count: s.service.count)).map { $0 &- $1 }
                rows.append(Row(
                    engine: e, worker: w, donePerInterval: s.completed &- (p?.completed ?? s.completed),
                    parksPerInterval: s.parks &- (p?.parks ?? s.parks),
                    p50: p == nil ? nil : WorkerCounters.quantile(0.5, of: delta),
                    p99: p == nil ? nil : WorkerCounters.quantile(0.99, of: delta)))
            }
        }
        previous = next
        return Frame(engines: engines, rows: rows, seconds: max(seconds, 0.001))
    }
}

/// Formats a ``TopSampler/Frame``.
enum TopView {
    static func render(_ frame: TopSampler.Frame, sort: TopCommand.SortKey, interval: Double, width: Int) -> String {
        let time = DateFormatter.localizedString(from: Date(), dateStyle: .none, timeStyle: .medium)
        var out = "rtio-admin top — \(frame.engines.count) engine(s), every \(interval) s, \(time)\n\n"
        func rate(_ n: UInt64) -> String { String(format: "%.0f", Double(n) / frame.seconds) }
        out += Admin.table(["PID", "PROCESS", "ENGINE", "MODE", "WORKERS", "ON-DEMAND", "DONE/S", "DEGRADED"], frame.engines.map { e in
            let done = frame.rows.filter { $0.engine.statusFile == e.statusFile }.reduce(0) { $0 + $1.donePerInterval }
            return ["\(e.pid)", e.process ?? "-", e.engine, e.mode, "\(e.workers.count)",
                    e.onDemandMaxThreads > 0 ? "\(e.onDemandWorkers.count)/\(e.onDemandMaxThreads)" : "-", rate(done),
                    e.degradations.map { "\($0.count)" } ?? "-"]
        })
        out += "\n"
        let rows = frame.rows.sorted { a, b in
            switch sort {
            case .cpu: return (a.worker.lastCPU ?? -1, a.worker.name) < (b.worker.lastCPU ?? -1, b.worker.name)
            case .name: return (a.engine.pid, a.worker.name) < (b.engine.pid, b.worker.name)
            case .done: return a.donePerInterval > b.donePerInterval
            case .p99: return (a.p99 ?? 0) > (b.p99 ?? 0)
            }
        }
        let table = Admin.table(
            ["PID", "WORKER", "TID", "CPU", "POLICY", "STATE", "QUEUE", "DONE/S", "P50", "P99", "PARKS/S", "DEMOTE", "FAULTS"],
            rows.map { r in
                let w = r.worker
                let faults = (w.minorFaults ?? 0) + (w.majorFaults ?? 0)
                return ["\(r.engine.pid)", w.name, "\(w.tid)", w.lastCPU.map { "\($0)" } ?? "-",
                        w.applied.scheduling.map { "\($0)" } ?? "-", w.state, "\(w.queueDepth)", rate(r.donePerInterval),
                        Admin.duration(r.p50), Admin.duration(r.p99), rate(r.parksPerInterval), "\(w.demotions)", "\(faults)"]
            })
        out += table.split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0.prefix(max(40, width))) }.joined(separator: "\n")
        return out
    }
}

/// The controlling terminal in raw mode (no echo, byte at a time), restored on exit and on SIGINT/SIGTERM.
enum Terminal {
    nonisolated(unsafe) static var saved = termios()
    nonisolated(unsafe) static var isRaw = false

    static func enterRaw() {
        guard tcgetattr(0, &saved) == 0 else { return }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        tcsetattr(0, TCSANOW, &raw)
        isRaw = true
        FileHandle.standardOutput.write(Data("\u{1B}[?25l".utf8))  // hide the cursor
        let handler: @convention(c) (Int32) -> Void = { _ in
            Terminal.restore()
            _exit(0)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
    }

    static func restore() {
        guard isRaw else { return }
        tcsetattr(0, TCSANOW, &saved)
        isRaw = false
        let show = "\u{1B}[?25h\r\n"
        _ = show.withCString { write(1, $0, strlen($0)) }
    }

    /// One byte from stdin, or nil after the timeout.
    static func readKey(timeoutMilliseconds: Int32) -> UInt8? {
        var fds = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
        guard poll(&fds, 1, timeoutMilliseconds) > 0 else { return nil }
        var byte: UInt8 = 0
        return read(0, &byte, 1) == 1 ? byte : nil
    }

    static func columns() -> Int {
        var size = winsize()
        return ioctl(1, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 160
    }
}
