// The measurement core: test file, read slots, the open-loop / closed-loop / burst drivers.
// Every driver runs on a dedicated pinned pthread (never the main thread, never a Swift task).

#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Histogram
import SystemPackage
import CRealtimeIOShims
import CMallocCounter

let readSize = 4096
/// O_DIRECT (Glibc does not export it to Swift: it needs _GNU_SOURCE); x86_64 and arm64 differ.
#if arch(arm64)
let oDirect: Int32 = 0o200000
#else
let oDirect: Int32 = 0o40000
#endif

/// Histograms in nanoseconds: 1 ns .. 120 s at 3 significant digits, fixed size (recording never
/// allocates).
func makeHistogram() -> Histogram<UInt64> {
    Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000_000,
                      numberOfSignificantValueDigits: .three)
}

// MARK: results

struct EngineResult {
    var name: String
    var skipped: String?
    var depth: Int?
    var ops: UInt64 = 0
    var elapsedNs: UInt64 = 0
    var latency = makeHistogram()
    var submit = makeHistogram()
    var mallocs: UInt64 = 0
    var threadsCreated = 0
    var minorFaults = 0
    var voluntaryCtx = 0
    var involuntaryCtx = 0
    var verified = 0
    var verifyErrors = 0
    var readErrors = 0
    // CPU cost (CPUAccounting.swift), latency/throughput/interference
    /// Process user+system CPU over the recorded phase (RUSAGE_SELF, plus `cpuUnaccountedNs`).
    var processCPUNs: UInt64 = 0
    /// CPU of the engine's own threads (tasks created since `start`) alive at the end, from schedstat.
    var workerCPUNs: UInt64 = 0
    /// Task CPU time missing from RUSAGE_SELF and added to `processCPUNs` (0 when all accounted).
    var cpuUnaccountedNs: UInt64 = 0
    /// The submitter's run-queue wait (runnable, not running) over the recorded phase.
    var submitterRunQueueNs: UInt64 = 0
    /// The submitter's involuntary context switches over the recorded phase (RUSAGE_THREAD).
    var submitterInvoluntary = 0
    /// The submitter mode of an open-loop run (nil for closed loops).
    var submitterMode: String? = nil
    /// The engine's threads at the end of the recorded phase: "name xN (policy, cpus L)".
    var engineThreads: [String] = []
    /// Sleeping submitters: how late clock_nanosleep woke the submitter after the arrival time.
    var wakeLateness = makeHistogram()
    // burst only
    var workerCPUs: [String]? = nil
    var workerNames: [String]? = nil
    var submitThreadCreates: Double? = nil
    var submitterThreadCreates: Double? = nil
    var burstSubmitTotalNs: Double? = nil
    var burstFirstNs: Double? = nil
    var burstLastNs: Double? = nil

    init(name: String, skipped: String? = nil, depth: Int? = nil) {
        self.name = name
        self.skipped = skipped
        self.depth = depth
    }

    var iops: Double { elapsedNs == 0 ? 0 : Double(ops) * 1e9 / Double(elapsedNs) }
    var mallocsPerOp: Double { ops == 0 ? 0 : Double(mallocs) / Double(ops) }
    var ctxSwitches: Int { voluntaryCtx + involuntaryCtx }
    var cpuNsPerOp: Double { ops == 0 ? 0 : Double(processCPUNs) / Double(ops) }
    var workerCPUNsPerOp: Double { ops == 0 ? 0 : Double(workerCPUNs) / Double(ops) }
}

// MARK: process counters

struct ProcessCounters {
    var minorFaults: Int
    var voluntary: Int
    var involuntary: Int
    var mallocs: UInt64

    static func now() -> ProcessCounters {
        var ru = rusage()
        getrusage(RUSAGE_SELF.rawValue, &ru)
        return ProcessCounters(minorFaults: ru.ru_minflt, voluntary: ru.ru_nvcsw,
                               involuntary: ru.ru_nivcsw, mallocs: rtio_malloc_counter_allocations())
    }

    func apply(since start: ProcessCounters, to result: inout EngineResult) {
        result.minorFaults += minorFaults - start.minorFaults
        result.voluntaryCtx += voluntary - start.voluntary
        result.involuntaryCtx += involuntary - start.involuntary
        result.mallocs += mallocs &- start.mallocs
    }
}

// MARK: test file

/// A file of `sizeMiB` MiB whose every 8-byte word holds its own file offset, read once so it is
/// in the page cache. Removed on deinit.
final class TestFile {
    let path: String
    let descriptor: FileDescriptor
    let pages: Int

    /// Opened with O_DIRECT (reads bypass the page cache and go to the block device).
    let direct: Bool

    /// `direct`: the file is written, fsync'ed, and opened O_DIRECT; it is not pre-read.
    init(sizeMiB: Int, directory: String = "/var/tmp", direct: Bool = false) throws {
        self.direct = direct
        path = "\(directory)/rtio-bench-\(getpid())\(direct ? "-direct" : "").dat"
        let size = max(1, sizeMiB) << 20
        pages = size / readSize
        let w = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard w >= 0 else { throw Errno(rawValue: errno) }
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var offset = 0
        while offset < size {
            let words = buffer.assumingMemoryBound(to: UInt64.self)
            for i in 0..<(chunk / 8) { words[i] = UInt64(offset + i * 8) }
            var done = 0
            while done < chunk {
                let n = pwrite(w, buffer + done, chunk - done, off_t(offset + done))
                guard n > 0 else { close(w); throw Errno(rawValue: errno) }
                done += n
            }
            offset += chunk
        }
        if direct { fsync(w) }
        close(w)
        let r = open(path, O_RDONLY | O_CLOEXEC | (direct ? oDirect : 0))
        guard r >= 0 else {
            let e = errno
            unlink(path)
            if direct && e == EINVAL {
                throw BenchEngineSkip("--direct: the file system of \(directory) refuses O_DIRECT (EINVAL); run from a directory on a block device")
            }
            throw Errno(rawValue: e)
        }
        descriptor = FileDescriptor(rawValue: r)
        if direct {
            // Drop the pages the writes left behind, so nothing is served from memory.
            _ = posix_fadvise(r, 0, off_t(size), POSIX_FADV_DONTNEED)
            return
        }
        // Pre-read everything: the benchmark measures page-cache reads.
        offset = 0
        while offset < size {
            let n = pread(r, buffer, chunk, off_t(offset))
            if n <= 0 { break }
            offset += n
        }
    }

    deinit {
        try? descriptor.close()
        unlink(path)
    }
}

// MARK: read slots

/// Preallocated per-request state, indexed by tag. Buffers are 4 KiB aligned and pre-faulted.
final class ReadSlots {
    let count: Int
    let buffers: UnsafeMutableRawPointer
    let offsets: UnsafeMutablePointer<Int64>
    let startNs: UnsafeMutablePointer<UInt64>
    let opIndex: UnsafeMutablePointer<UInt64>
    let free: UnsafeMutablePointer<Int>
    var freeCount: Int

    init(count: Int) {
        self.count = count
        buffers = .allocate(byteCount: count * readSize, alignment: 4096)
        memset(buffers, 0xA5, count * readSize)
        offsets = .allocate(capacity: count); offsets.initialize(repeating: 0, count: count)
        startNs = .allocate(capacity: count); startNs.initialize(repeating: 0, count: count)
        opIndex = .allocate(capacity: count); opIndex.initialize(repeating: 0, count: count)
        free = .allocate(capacity: count)
        for i in 0..<count { free[i] = count - 1 - i }
        freeCount = count
    }
    deinit {
        buffers.deallocate(); offsets.deallocate(); startNs.deallocate()
        opIndex.deallocate(); free.deallocate()
    }

    @inline(__always) func buffer(_ slot: Int) -> UnsafeMutableRawPointer { buffers + slot * readSize }
    @inline(__always) func take() -> Int? {
        guard freeCount > 0 else { return nil }
        freeCount -= 1
        return free[freeCount]
    }
    @inline(__always) func give(_ slot: Int) { free[freeCount] = slot; freeCount += 1 }
}

/// xorshift64*: random page-aligned offsets without allocation.
struct OffsetGenerator {
    var state: UInt64
    let pages: UInt64
    init(seed: UInt64, pages: Int) { state = seed | 1; self.pages = UInt64(max(1, pages)) }
    @inline(__always) mutating func next() -> Int64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return Int64(((state &* 2685821657736338717) % pages) * UInt64(readSize))
    }
}

/// Checks a completed read: size always, and the pattern (3 words) on every 16th op.
@inline(__always)
func checkRead(_ result: Int, slots: ReadSlots, slot: Int, into r: inout EngineResult) {
    if result != readSize { r.readErrors += 1; return }
    if slots.opIndex[slot] & 15 == 0 {
        let words = slots.buffer(slot).assumingMemoryBound(to: UInt64.self)
        let base = UInt64(slots.offsets[slot])
        r.verified += 1
        if words[0] != base || words[257] != base + 257 * 8 || words[511] != base + 511 * 8 {
            r.verifyErrors += 1
        }
        words[0] = 0xDEAD_BEEF  // so a read that silently does nothing next time is caught
    }
}

// MARK: CPU hogs (interference)

/// `count` SCHED_OTHER threads spinning on `cpu` until `stop()` or `maxSeconds`.
final class CPUHogs: @unchecked Sendable {
    private let stopFlag = Atomic<Bool>(false)
    private var threads: [BenchThread] = []

    init(count: Int, cpu: Int32, maxSeconds: Double) {
        let deadline = rtio_monotonic_ns() + UInt64(maxSeconds * 1e9)
        for _ in 0..<count {
            threads.append(BenchThread(cpu: cpu) { [self] in self.spin(until: deadline) })
        }
    }

    private func spin(until deadline: UInt64) {
        var x: UInt64 = 1
        while !stopFlag.load(ordering: .relaxed) {
            for _ in 0..<1000 { x = x &* 6364136223846793005 &+ 1 }
            if rtio_monotonic_ns() > deadline { break }
        }
        if x == 42 { print("") }  // keep the work
    }

    func stop() {
        stopFlag.store(true, ordering: .relaxed)
        for t in threads { t.join() }
        threads = []
    }
}

// MARK: drivers

struct LoopParams {
    var durationNs: UInt64
    var warmupNs: UInt64
    var submitterCPU: Int32
    var fileSizeMiB: Int
    /// Open loop only: how the submitter waits between arrivals (SubmitterMode.swift).
    var submitter: SubmitterMode = .spin
}

/// Starts `engine` on the calling thread — the submitter thread, still unpinned, so threads the
/// engine creates in `start` inherit an unrestricted CPU mask — then pins the caller to `cpu`
/// (threads an engine creates later, e.g. glibc AIO helpers spawned inside aio_read, inherit the
/// submitter's pin: that is what a pinned application gets). Returns the tasks seen before start.
private func startEngine(_ engine: any BenchEngine, file: TestFile, depth: Int, cpu: Int32) throws -> Set<Int32> {
    let before = currentTaskIDs()
    defer { pinCurrentThread(to: cpu) }
    try engine.start(file: file.descriptor, config: BenchEngineConfig(
        queueDepth: depth, submitterCPU: cpu, cpuCount: onlineCPUCount(), readSize: readSize))
    return before
}

/// The frame shared by the loop scenarios: an unrecorded warm-up phase, then the
/// recorded phase bracketed by the process counters and the malloc counter; stops
/// the engine. Returns the counters and the threads that appeared since start.
private func warmUpAndMeasure(
    _ engine: any BenchEngine, tasksBefore: Set<Int32>, params: LoopParams,
    onStop: () -> Void = {},
    phase: (_ durationNs: UInt64, _ record: Bool) -> Void
) -> (start: ProcessCounters, end: ProcessCounters, threadsCreated: Int, cpu: CPUWindow, threads: [String]) {
    phase(params.warmupNs, false)
    var maxTasks = max(tasksBefore.count, currentTaskCount())
    let cpu0 = CPUSnapshot.now()
    let start = ProcessCounters.now()
    rtio_malloc_counter_track(true)
    phase(params.durationNs, true)
    rtio_malloc_counter_track(false)
    let end = ProcessCounters.now()
    let cpu = CPUWindow(start: cpu0, end: CPUSnapshot.now())
    maxTasks = max(maxTasks, currentTaskCount())
    let threads = engineThreadSummary(tasksBefore: tasksBefore)
    onStop()
    engine.stop()
    return (start, end, max(0, maxTasks - tasksBefore.count), cpu, threads)
}

/// The engine's threads (tasks created since `start`), grouped by name family, policy and CPUs:
/// e.g. "iou-wrk x2 (FIFO 20, cpus 0-1)".
func engineThreadSummary(tasksBefore: Set<Int32>) -> [String] {
    var groups: [String: Int] = [:]
    for tid in currentTaskIDs().subtracting(tasksBefore) {
        guard let info = taskInfo(tid), let sched = taskSchedulingSummary(tid) else { continue }
        groups["\(taskFamilyName(info.name))\u{0}\(sched)", default: 0] += 1
    }
    return groups.sorted { $0.key < $1.key }.map { key, n in
        let parts = key.split(separator: "\u{0}", maxSplits: 1)
        return "\(parts[0]) x\(n) (\(parts.count > 1 ? parts[1] : ""))"
    }
}

/// Open loop at `rate` reads/s; latency from each read's *intended* issue time
/// (coordinated-omission corrected). At most `maxInFlight` outstanding.
func runOpenLoop(engine: any BenchEngine, file: TestFile, rate: Double, maxInFlight: Int,
                 params: LoopParams) -> EngineResult {
    var result = EngineResult(name: engine.name)
    let tasksBefore: Set<Int32>
    do {
        tasksBefore = try startEngine(engine, file: file, depth: maxInFlight, cpu: params.submitterCPU)
    } catch {
        result.skipped = "\(error)"
        return result
    }
    let mode = params.submitter
    if let failure = mode.apply() {
        engine.stop()
        result.skipped = "--submitter \(mode): \(failure)"
        return result
    }
    result.submitterMode = "\(mode)"
    let slots = ReadSlots(count: maxInFlight)
    var offsets = OffsetGenerator(seed: 0x9E37_79B9_7F4A_7C15, pages: file.pages)
    let interval = max(1.0, 1e9 / rate)
    var inFlight = 0
    var opCounter: UInt64 = 0

    func phase(_ durationNs: UInt64, record: Bool) {
        let t0 = rtio_monotonic_ns()
        let end = t0 &+ durationNs
        var issued: UInt64 = 0
        var next = t0
        /// When the submitter last returned from sleeping to an arrival (0: has not slept).
        var wokeAt: UInt64 = 0
        let onCompletion: (UInt64, Int) -> Void = { tag, res in
            let now = rtio_monotonic_ns()
            let slot = Int(tag)
            if record {
                result.latency.record(now &- slots.startNs[slot])
                result.ops += 1
            }
            checkRead(res, slots: slots, slot: slot, into: &result)
            slots.give(slot)
            inFlight -= 1
        }
        while true {
            if inFlight > 0 { _ = engine.reapCompletions(wait: false, onCompletion) }
            let now = rtio_monotonic_ns()
            if next <= now {
                if now >= end { break }
                guard let slot = slots.take() else {
                    _ = engine.reapCompletions(wait: true, onCompletion)
                    continue
                }
                let offset = offsets.next()
                slots.offsets[slot] = offset
                // Coordinated-omission corrected: from the intended arrival — except the part of
                // the delay that is the submitter's own timer overshoot (it slept to `next` and the
                // kernel woke it late): a real host's critical thread is woken by its event source,
                // and that wake-up is not the engine's latency. Lateness from a previous
                // completion wait stays in (that is the engine's).
                slots.startNs[slot] = max(next, wokeAt)
                slots.opIndex[slot] = opCounter
                let s0 = rtio_monotonic_ns()
                let ok = engine.submitRead(offset: offset, buffer: slots.buffer(slot), length: readSize, tag: UInt64(slot))
                let s1 = rtio_monotonic_ns()
                if ok {
                    if record { result.submit.record(s1 &- s0) }
                    inFlight += 1
                    opCounter &+= 1
                    issued &+= 1
                    next = t0 &+ UInt64(Double(issued) * interval)
                } else {
                    slots.give(slot)
                    if inFlight > 0 { _ = engine.reapCompletions(wait: true, onCompletion) }
                }
            } else if mode.sleeps {
                // A real host: wait for in-flight reads the engine's way, otherwise sleep to the
                // next arrival. A completion wait that overruns an arrival makes that read late,
                // and its latency (from the intended time) shows it.
                if inFlight > 0 {
                    _ = engine.reapCompletions(wait: true, onCompletion)
                } else {
                    sleepUntil(next)
                    wokeAt = rtio_monotonic_ns()
                    if record { result.wakeLateness.record(wokeAt &- next) }
                }
            } else {
                rtio_cpu_relax()
            }
        }
        while inFlight > 0 { _ = engine.reapCompletions(wait: true, onCompletion) }
        if record { result.elapsedNs = rtio_monotonic_ns() &- t0 }
    }

    let window = warmUpAndMeasure(engine, tasksBefore: tasksBefore, params: params, onStop: { mode.restore() }) {
        phase($0, record: $1)
    }
    window.end.apply(since: window.start, to: &result)
    skipIfNoReadCompleted(&result)
    window.cpu.apply(tasksBefore: tasksBefore, to: &result)
    result.threadsCreated = window.threadsCreated
    result.engineThreads = window.threads
    return result
}

/// An engine that completed no read in the measured window (it refused every submit) is
/// reported as skipped, not as a row of zeros.
func skipIfNoReadCompleted(_ result: inout EngineResult) {
    if result.ops == 0 && result.skipped == nil {
        result.skipped = "completed no read in the measured window (every submit refused?)"
    }
}

/// Closed loop: keep `depth` reads in flight; latency from the submit call.
func runClosedLoop(engine: any BenchEngine, file: TestFile, depth: Int, params: LoopParams) -> EngineResult {
    var result = EngineResult(name: engine.name, depth: depth)
    let tasksBefore: Set<Int32>
    do {
        tasksBefore = try startEngine(engine, file: file, depth: depth, cpu: params.submitterCPU)
    } catch {
        result.skipped = "\(error)"
        return result
    }
    let slots = ReadSlots(count: depth)
    var offsets = OffsetGenerator(seed: 0xD1B5_4A32_D192_ED03, pages: file.pages)
    var inFlight = 0
    var opCounter: UInt64 = 0

    func phase(_ durationNs: UInt64, record: Bool) {
        let t0 = rtio_monotonic_ns()
        let end = t0 &+ durationNs
        let onCompletion: (UInt64, Int) -> Void = { tag, res in
            let now = rtio_monotonic_ns()
            let slot = Int(tag)
            if record {
                result.latency.record(now &- slots.startNs[slot])
                result.ops += 1
            }
            checkRead(res, slots: slots, slot: slot, into: &result)
            slots.give(slot)
            inFlight -= 1
        }
        var now = t0
        while true {
            // Refill to the target depth.
            if now < end {
                while let slot = slots.take() {
                    let offset = offsets.next()
                    slots.offsets[slot] = offset
                    slots.opIndex[slot] = opCounter
                    let s0 = rtio_monotonic_ns()
                    slots.startNs[slot] = s0
                    let ok = engine.submitRead(offset: offset, buffer: slots.buffer(slot), length: readSize, tag: UInt64(slot))
                    let s1 = rtio_monotonic_ns()
                    if !ok { slots.give(slot); break }
                    if record { result.submit.record(s1 &- s0) }
                    inFlight += 1
                    opCounter &+= 1
                }
            }
            if inFlight == 0 {
                if now >= end { break }
                // Refused with nothing of ours in flight (an engine's slots are
                // still held elsewhere, e.g. served requests its worker has not
                // passed yet): try again, the phase is not over.
                rtio_cpu_relax()
                now = rtio_monotonic_ns()
                continue
            }
            _ = engine.reapCompletions(wait: true, onCompletion)
            now = rtio_monotonic_ns()
        }
        if record { result.elapsedNs = rtio_monotonic_ns() &- t0 }
    }

    let window = warmUpAndMeasure(engine, tasksBefore: tasksBefore, params: params) { phase($0, record: $1) }
    window.end.apply(since: window.start, to: &result)
    skipIfNoReadCompleted(&result)
    window.cpu.apply(tasksBefore: tasksBefore, to: &result)
    result.threadsCreated = window.threadsCreated
    result.engineThreads = window.threads
    return result
}

/// One burst repetition, measured on the calling (pinned) thread with a fresh engine.
struct BurstRep {
    var submitTotalNs: UInt64 = 0
    var firstNs: UInt64 = 0
    var lastNs: UInt64 = 0
    var threadsCreated = 0
    var submitThreadCreates = 0
    var submitterThreadCreates = 0
    var newTasks: [(tid: Int32, name: String, cpus: String)] = []
    var createdDuringLife: Set<Int32> = []
}

func runBurstRep(engine: any BenchEngine, file: TestFile, burst: Int, cpu: Int32,
                 into result: inout EngineResult) -> BurstRep? {
    var rep = BurstRep()
    let tasksBefore: Set<Int32>
    let slots = ReadSlots(count: burst)
    var offsets = OffsetGenerator(seed: rtio_monotonic_ns() | 1, pages: file.pages)
    do {
        tasksBefore = try startEngine(engine, file: file, depth: burst, cpu: cpu)
    } catch {
        result.skipped = "\(error)"
        return nil
    }
    let statBuffer = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
    defer { statBuffer.deallocate() }
    let tasksAfterStart = processThreadCount(statBuffer)
    var completed = 0
    var t0: UInt64 = 0
    let onCompletion: (UInt64, Int) -> Void = { tag, res in
        let now = rtio_monotonic_ns() &- t0
        if completed == 0 { rep.firstNs = now }
        rep.lastNs = now
        completed += 1
        result.latency.record(now)
        result.ops += 1
        checkRead(res, slots: slots, slot: Int(tag), into: &result)
    }
    for slot in 0..<burst {
        slots.offsets[slot] = offsets.next()
        slots.opIndex[slot] = UInt64(slot) * 16  // verify every read of a burst
    }
    let c0 = ProcessCounters.now()
    rtio_malloc_counter_track(true)
    let submitterCreations0 = rtio_thread_creations_by_current_thread()
    t0 = rtio_monotonic_ns()
    var slot = 0
    while slot < burst {
        let s0 = rtio_monotonic_ns()
        let ok = engine.submitRead(offset: slots.offsets[slot], buffer: slots.buffer(slot), length: readSize, tag: UInt64(slot))
        let s1 = rtio_monotonic_ns()
        rep.submitTotalNs &+= s1 &- s0
        if ok {
            result.submit.record(s1 &- s0)
            slot += 1
        } else if completed == slot {
            // Refused with nothing of ours in flight: waiting cannot help.
            result.skipped = "refused read \(slot) of the burst with nothing in flight"
            break
        } else {
            _ = engine.reapCompletions(wait: true, onCompletion)
        }
    }
    // num_threads from /proc/self/stat into a preallocated buffer: a few µs, no allocation.
    let tasksAfterSubmit = processThreadCount(statBuffer)
    // Threads this (submitting) thread created itself in the submit loop: the pthread_create
    // interposer's per-thread count, apart from what the process created meanwhile.
    rep.submitterThreadCreates = Int(rtio_thread_creations_by_current_thread() &- submitterCreations0)
    while completed < slot { _ = engine.reapCompletions(wait: true, onCompletion) }
    rtio_malloc_counter_track(false)
    if result.skipped != nil {
        engine.stop()
        return nil
    }
    ProcessCounters.now().apply(since: c0, to: &result)
    let now = currentTaskIDs()
    let created = now.subtracting(tasksBefore)
    rep.createdDuringLife = created
    let known = engine.workerThreadIDs
    for tid in (known.isEmpty ? created.sorted() : known) {
        if let info = taskInfo(tid) { rep.newTasks.append((tid, info.name, info.cpusAllowed)) }
    }
    rep.threadsCreated = created.count
    rep.submitThreadCreates = max(0, tasksAfterSubmit - tasksAfterStart)
    engine.stop()
    return rep
}

/// The process's thread count (field 20 of /proc/self/stat), read with plain syscalls into
/// `buffer` (>= 4096 bytes): cheap enough to sit between a burst's submits and its reaps.
func processThreadCount(_ buffer: UnsafeMutableRawPointer) -> Int {
    let fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return -1 }
    let n = read(fd, buffer, 4095)
    close(fd)
    guard n > 0 else { return -1 }
    let bytes = buffer.assumingMemoryBound(to: UInt8.self)
    var i = n - 1
    while i > 0 && bytes[i] != UInt8(ascii: ")") { i -= 1 }
    // After ") " comes field 3 (state); num_threads is field 20.
    var field = 2
    var value = 0
    i += 1
    while i < n {
        let c = bytes[i]
        if c == UInt8(ascii: " ") {
            if field == 20 { return value }
            field += 1
            value = 0
        } else if field == 20 {
            if c >= 48 && c <= 57 { value = value * 10 + Int(c - 48) }
        }
        i += 1
    }
    return -1
}

/// Waits (up to `maxSeconds`) until none of `tids` is alive, so the next rep starts cold.
func waitForTasksToExit(_ tids: Set<Int32>, maxSeconds: Double) {
    guard !tids.isEmpty else { return }
    let deadline = rtio_monotonic_ns() + UInt64(maxSeconds * 1e9)
    while rtio_monotonic_ns() < deadline {
        if currentTaskIDs().isDisjoint(with: tids) { return }
        usleep(20_000)
    }
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
