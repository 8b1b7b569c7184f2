// `rtio-bench ring`: microbenchmark of RealtimeIO's `SubmissionRing` (the submit path's queue).
//
// Measures:
// 1. single thread: ns per tryPush + tryPop pair (ring never holds more than one entry), best of
//    `--runs` runs of `--iterations` pairs, on a pthread pinned to CPU 0;
// 2. 1 producer (CPU 0) -> 1 consumer (CPU 1): the consumer loops waitForEntries(spin 1 s, bounded)
//    + drain; `--items` items, best of `--runs`; ns/item and items/s from the producer's first
//    push to the consumer's last pop;
// 3. P producers (all pinned to CPU 0: only 2 CPUs here, the consumer keeps CPU 1) -> 1 consumer,
//    P = 2, 4: items/s over `--items` items in total;
// 4. the producer's cost of ONE tryPush (timed with rtio_monotonic_ns() around the call, minus the
//    measured median cost of an empty timer pair) when the consumer is
//    - awake: spinning in waitForEntries; the producer pushes once the previous entry was popped
//      and 2 µs passed, so every push hands a cache line to a spinning consumer;
//    - parked: spin budget 0; the producer waits until the consumer has announced sleep and at
//      least 200 µs passed, so every push includes the futex wake syscall.
//    p50/p99 over `--samples` samples each; `ring.wakeup.wakeSyscalls` counted in both phases.
//
// All hot loops run on pinned pthreads (BenchThread), nonisolated, no allocation inside.
// JSON (--json FILE): {"scenario":"ring","machine":{...},"results":{"single_thread_push_pop_ns",
//   "spsc_ns_per_item","spsc_items_per_s","mpsc":[{"producers","items_per_s"}],
//   "push_awake_ns":{"p50","p99"},"push_parked_ns":{"p50","p99"},"wake_syscalls",
//   plus "single_thread_push_pop_cpu_ns", "wake_syscalls_awake","timer_overhead_ns","ring_capacity","samples","items","load_average"}}
// ("wake_syscalls" is the parked phase's count: one per push expected; the awake phase's is
// reported separately and should be 0).

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ArgumentParser
import Synchronization
import RealtimeIO
import CRealtimeIOShims

struct RingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ring", abstract: "Submission-ring microbenchmark (push/pop cost, SPSC/MPSC rate, wake cost).")

    // `--json FILE` comes from the shared options: the root command (whose options ArgumentParser
    // also matches after the subcommand name) declares `--json` too, and would otherwise take it.
    @OptionGroup var common: CommonOptions
    var json: String? { common.json }
    @Option(help: "Push+pop pairs per single-thread run.")
    var iterations: Int = 10_000_000
    @Option(help: "Items per SPSC / MPSC run.")
    var items: Int = 10_000_000
    @Option(help: "Runs per measurement (best is kept).")
    var runs: Int = 5
    @Option(help: "Samples per single-push measurement (awake and parked).")
    var samples: Int = 20_000
    @Option(help: "Ring capacity (power of two).")
    var capacity: Int = 1024

    func validate() throws {
        guard capacity >= 2, capacity & (capacity - 1) == 0 else { throw ValidationError("--capacity must be a power of two >= 2") }
        guard iterations > 0, items > 0, runs > 0, samples >= 100 else { throw ValidationError("counts must be positive (samples >= 100)") }
    }

    func run() throws {
        let cpus = onlineCPUCount()
        let consumerCPU: Int32 = cpus > 1 ? 1 : 0
        let load = loadAverage()
        print("== ring: SubmissionRing capacity \(capacity); producers on CPU 0, consumer on CPU \(consumerCPU); load average \(load)")
        flushStdout()

        let single = RingBench.singleThreadPushPop(iterations: iterations, runs: runs, capacity: capacity)
        let spsc = RingBench.producersToConsumer(producers: 1, items: items, runs: runs, capacity: capacity, consumerCPU: consumerCPU)
        var mpsc: [(Int, RingBench.Rate)] = []
        for p in [2, 4] {
            mpsc.append((p, RingBench.producersToConsumer(producers: p, items: items, runs: max(1, runs / 2),
                                                         capacity: capacity, consumerCPU: consumerCPU)))
        }
        let timer = RingBench.timerOverhead()
        let awake = RingBench.singlePushCost(parked: false, samples: samples, capacity: capacity, consumerCPU: consumerCPU, timerOverhead: timer)
        let parked = RingBench.singlePushCost(parked: true, samples: samples, capacity: capacity, consumerCPU: consumerCPU, timerOverhead: timer)
        let loadAfter = loadAverage()

        func f1(_ v: Double) -> String { String(format: "%.1f", v) }
        func m(_ v: Double) -> String { String(format: "%.2fM", v / 1e6) }
        func verdict(_ ok: Bool) -> String { ok ? "met" : "MISSED" }
        var rows: [[String]] = [["measurement", "value", "goal", ""]]
        rows.append(["single-thread push+pop (ns/pair, best of \(runs))", f1(single.wall), "<= 15", verdict(single.wall <= 15)])
        rows.append(["  same, thread CPU time (ns/pair, excl. preemption)", f1(single.cpu), "", ""])
        rows.append(["1P->1C ns/item (best of \(runs))", f1(spsc.nsPerItem), "", ""])
        rows.append(["1P->1C items/s", m(spsc.itemsPerSecond), ">= 20M", verdict(spsc.itemsPerSecond >= 20e6)])
        for (p, r) in mpsc {
            rows.append(["\(p)P->1C items/s (producers share CPU 0)", m(r.itemsPerSecond), "", ""])
        }
        rows.append(["push, consumer awake p50 (ns)", f1(awake.p50), "<= 100", verdict(awake.p50 <= 100)])
        rows.append(["push, consumer awake p99 (ns)", f1(awake.p99), "", ""])
        rows.append(["push, consumer parked p50 (ns, incl. futex wake)", f1(parked.p50), "", ""])
        rows.append(["push, consumer parked p99 (ns)", f1(parked.p99), "", ""])
        rows.append(["wake syscalls, parked phase (\(samples) pushes)", "\(parked.wakeSyscalls)", "= pushes", ""])
        rows.append(["wake syscalls, awake phase (\(samples) pushes)", "\(awake.wakeSyscalls)", "0", verdict(awake.wakeSyscalls == 0)])
        let widths = (0..<4).map { c in rows.map { $0[c].count }.max() ?? 0 }
        for (i, row) in rows.enumerated() {
            let line = row[0].padding(toLength: widths[0], withPad: " ", startingAt: 0) + "  "
                + String(repeating: " ", count: widths[1] - row[1].count) + row[1] + "  "
                + row[2].padding(toLength: widths[2], withPad: " ", startingAt: 0) + "  " + row[3]
            print(line)
            if i == 0 { print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        print("   single-push times: rtio_monotonic_ns() pair around one tryPush, minus the median empty-pair cost (\(f1(timer)) ns, subtracted)")
        print("   load average before \(load), after \(loadAfter) (2 CPUs, shared VM: other builds/tests may run)")

        if let json {
            let results: [String: Any] = [
                "single_thread_push_pop_ns": single.wall,
                "single_thread_push_pop_cpu_ns": single.cpu,
                "spsc_ns_per_item": spsc.nsPerItem,
                "spsc_items_per_s": spsc.itemsPerSecond,
                "mpsc": mpsc.map { ["producers": $0.0, "items_per_s": $0.1.itemsPerSecond] as [String: Any] },
                "push_awake_ns": ["p50": awake.p50, "p99": awake.p99],
                "push_parked_ns": ["p50": parked.p50, "p99": parked.p99],
                "wake_syscalls": parked.wakeSyscalls,
                "wake_syscalls_awake": awake.wakeSyscalls,
                "timer_overhead_ns": timer,
                "ring_capacity": capacity,
                "samples": samples,
                "items": items,
                "load_average": [load, loadAfter],
            ]
            let doc: [String: Any] = ["scenario": "ring", "machine": MachineInfo.current().json, "results": results]
            try jsonData(doc).write(to: URL(fileURLWithPath: json))
            print("   wrote \(json)")
        }
    }

    private func loadAverage() -> String {
        guard let text = readSmallFile("/proc/loadavg") else { return "?" }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }
}

/// The measurements; everything here runs on BenchThreads (real pinned pthreads).
enum RingBench {
    struct Rate { var nsPerItem: Double; var itemsPerSecond: Double }
    struct PushCost { var p50: Double; var p99: Double; var wakeSyscalls: Int }

    /// Best-of-`runs` ns per tryPush+tryPop pair on one thread pinned to CPU 0.
    /// Also returns the best run's thread CPU time per pair (immune to preemption by other load).
    static func singleThreadPushPop(iterations: Int, runs: Int, capacity: Int) -> (wall: Double, cpu: Double) {
        BenchThread.run(cpu: 0) { () -> (wall: Double, cpu: Double) in
            let ring = try! SubmissionRing(capacity: capacity)
            var best = Double.infinity
            var bestCPU = Double.infinity
            var checksum: UInt64 = 0
            for _ in 0..<runs {
                let c0 = threadCPUNanoseconds()
                let t0 = rtio_monotonic_ns()
                for i in 0..<iterations {
                    _ = ring.tryPush(UInt64(truncatingIfNeeded: i))
                    checksum &+= ring.tryPop() ?? 1
                }
                let t1 = rtio_monotonic_ns()
                let c1 = threadCPUNanoseconds()
                best = min(best, Double(t1 &- t0) / Double(iterations))
                bestCPU = min(bestCPU, Double(c1 &- c0) / Double(iterations))
            }
            precondition(checksum == UInt64(runs) &* UInt64(iterations) &* UInt64(iterations &- 1) / 2, "ring lost entries")
            return (best, bestCPU)
        }
    }

    static func threadCPUNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Shared flags of a multi-thread run (separate cache lines are not needed: written once).
    final class Flags: Sendable {
        let ready = Atomic<Int>(0)
        let go = Atomic<Bool>(false)
        let stop = Atomic<Bool>(false)
        let startNs = Atomic<UInt64>(0)
        let endNs = Atomic<UInt64>(0)
        let consumed = Atomic<Int>(0)
        let sum = Atomic<UInt64>(0)
    }

    /// `producers` threads pinned to CPU 0 push `items` in total; one consumer pinned to
    /// `consumerCPU` spins (bounded, 1 s) and drains. Best of `runs`.
    static func producersToConsumer(producers: Int, items: Int, runs: Int, capacity: Int, consumerCPU: Int32) -> Rate {
        var bestNs = UInt64.max
        for _ in 0..<runs {
            let ring = try! SubmissionRing(capacity: capacity)
            let flags = Flags()
            let perProducer = items / producers
            let total = perProducer * producers
            let consumer = BenchThread(cpu: consumerCPU) {
                flags.ready.add(1, ordering: .relaxed)
                while !flags.go.load(ordering: .acquiring) { rtio_cpu_relax() }
                var taken = 0
                var sum: UInt64 = 0
                while taken < total {
                    if ring.waitForEntries(spinNanoseconds: 1_000_000_000, timeoutNanoseconds: 100_000_000) {
                        taken &+= ring.drain(maximum: .max) { sum &+= $0 }
                    }
                }
                flags.endNs.store(rtio_monotonic_ns(), ordering: .relaxed)
                flags.sum.store(sum, ordering: .relaxed)
            }
            var threads: [BenchThread] = []
            for p in 0..<producers {
                threads.append(BenchThread(cpu: 0) {
                    flags.ready.add(1, ordering: .relaxed)
                    while !flags.go.load(ordering: .acquiring) { rtio_cpu_relax() }
                    if p == 0 { _ = flags.startNs.compareExchange(expected: 0, desired: rtio_monotonic_ns(), ordering: .relaxed) }
                    for i in 0..<perProducer {
                        while !ring.tryPush(UInt64(i)) { rtio_cpu_relax() }
                    }
                })
            }
            while flags.ready.load(ordering: .relaxed) < producers + 1 { usleep(100) }
            let goNs = rtio_monotonic_ns()
            flags.go.store(true, ordering: .releasing)
            for t in threads { t.join() }
            consumer.join()
            let expected = UInt64(producers) &* UInt64(perProducer) &* UInt64(perProducer &- 1) / 2
            precondition(flags.sum.load(ordering: .relaxed) == expected, "ring lost or duplicated entries")
            // From the first producer's start (or the go signal if it never recorded) to the last pop.
            let start = max(goNs, flags.startNs.load(ordering: .relaxed))
            bestNs = min(bestNs, flags.endNs.load(ordering: .relaxed) &- start)
        }
        let ns = Double(bestNs) / Double(items / producers * producers)
        return Rate(nsPerItem: ns, itemsPerSecond: 1e9 / ns)
    }

    /// Median cost of two back-to-back rtio_monotonic_ns() calls (vDSO clock_gettime).
    static func timerOverhead() -> Double {
        BenchThread.run(cpu: 0) { () -> Double in
            let n = 100_000
            let deltas = UnsafeMutablePointer<UInt64>.allocate(capacity: n)
            defer { deltas.deallocate() }
            for i in 0..<n {
                let a = rtio_monotonic_ns()
                let b = rtio_monotonic_ns()
                deltas[i] = b &- a
            }
            var sorted = UnsafeMutableBufferPointer(start: deltas, count: n)
            sorted.sort()
            return Double(sorted[n / 2])
        }
    }

    /// The producer's cost of one tryPush to an awake (spinning) or parked consumer.
    static func singlePushCost(parked: Bool, samples: Int, capacity: Int, consumerCPU: Int32, timerOverhead: Double) -> PushCost {
        let ring = try! SubmissionRing(capacity: capacity)
        let flags = Flags()
        let spin: Int64 = parked ? 0 : 1_000_000_000
        let consumer = BenchThread(cpu: consumerCPU) {
            var taken = 0
            while !flags.stop.load(ordering: .relaxed) {
                if ring.waitForEntries(spinNanoseconds: spin, timeoutNanoseconds: 100_000_000,
                                       shouldStop: { flags.stop.load(ordering: .relaxed) }) {
                    taken &+= ring.drain(maximum: .max) { _ in }
                    flags.consumed.store(taken, ordering: .releasing)
                }
            }
        }
        let (raw, wakes) = BenchThread.run(cpu: 0) { () -> ([UInt64], Int) in
            let warmup = min(1000, samples / 10)
            let n = samples + warmup
            let times = UnsafeMutablePointer<UInt64>.allocate(capacity: n)
            defer { times.deallocate() }
            let gapNs: UInt64 = parked ? 200_000 : 2_000
            var last = rtio_monotonic_ns()
            var wakesBefore = 0
            for i in 0..<n {
                if i == warmup { wakesBefore = ring.wakeup.wakeSyscalls }
                // Previous entry consumed, consumer back to spinning (awake) or parked.
                while flags.consumed.load(ordering: .acquiring) < i { rtio_cpu_relax() }
                if parked {
                    let deadline = rtio_monotonic_ns() &+ 1_000_000_000
                    while !ring.wakeup.isParked && rtio_monotonic_ns() < deadline { rtio_cpu_relax() }
                }
                while rtio_monotonic_ns() &- last < gapNs { rtio_cpu_relax() }
                let t0 = rtio_monotonic_ns()
                let ok = ring.tryPush(UInt64(i))
                let t1 = rtio_monotonic_ns()
                precondition(ok, "ring full in the single-push benchmark")
                times[i] = t1 &- t0
                last = t1
            }
            while flags.consumed.load(ordering: .acquiring) < n { rtio_cpu_relax() }
            let wakes = ring.wakeup.wakeSyscalls - wakesBefore  // the measured pushes' wakes only
            return (Array(UnsafeBufferPointer(start: times + warmup, count: samples)), wakes)
        }
        flags.stop.store(true, ordering: .relaxed)
        ring.wakeup.wakeParked()
        consumer.join()
        let sorted = raw.sorted()
        func pct(_ p: Double) -> Double {
            max(0, Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p / 100))]) - timerOverhead)
        }
        return PushCost(p50: pct(50), p99: pct(99), wakeSyscalls: wakes)
    }
}
