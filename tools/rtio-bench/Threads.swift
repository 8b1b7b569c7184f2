// Real pthreads for submitters, hogs and engine workers, CPU pinning, /proc/self/task inspection,
// and the small lock-free pieces (futex parker, bounded MPSC completion queue) the baseline
// engines share.

#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import CRealtimeIOShims

/// Moves a non-Sendable value to another thread when the program's structure guarantees
/// there is no concurrent use (e.g. an engine handed to the submitter thread and used only there).
final class UnsafeTransfer<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// A joinable pthread running `body`, optionally pinned to `cpu` before `body` runs.
struct BenchThread {
    private var handle: pthread_t

    private final class Start {
        let body: () -> Void
        let cpu: Int32?
        init(body: @escaping () -> Void, cpu: Int32?) { self.body = body; self.cpu = cpu }
    }

    /// Spawns the thread. `body` runs on it; the closure is called exactly once.
    init(cpu: Int32?, _ body: @escaping @Sendable () -> Void) {
        let start = Unmanaged.passRetained(Start(body: body, cpu: cpu)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let start = Unmanaged<Start>.fromOpaque(arg!).takeRetainedValue()
            if let cpu = start.cpu { _ = pinCurrentThread(to: cpu) }
            start.body()
            return nil
        }, start)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        handle = tid
    }

    func join() { pthread_join(handle, nil) }

    /// Runs `body` on a fresh pthread (pinned to `cpu`) and waits for it: the way every hot loop
    /// of the bench leaves the main thread.
    static func run<R>(cpu: Int32?, _ body: @escaping () -> R) -> R {
        let box = UnsafeTransfer<R?>(nil)
        let work = UnsafeTransfer(body)
        let t = BenchThread(cpu: cpu) { box.value = work.value() }
        t.join()
        return box.value!
    }
}

/// Pins the calling thread to one CPU. Returns 0 or -errno.
@discardableResult
func pinCurrentThread(to cpu: Int32) -> Int32 {
    var set = rtio_cpu_set()
    rtio_cpuset_zero(&set)
    rtio_cpuset_add(&set, cpu)
    return rtio_sched_setaffinity_tid(0, &set)
}

/// Online CPUs.
func onlineCPUCount() -> Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

// MARK: /proc/self/task

/// Tids of all tasks (threads) of this process.
func currentTaskIDs() -> Set<Int32> {
    var result = Set<Int32>()
    guard let dir = opendir("/proc/self/task") else { return result }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if let tid = Int32(name) { result.insert(tid) }
    }
    return result
}

/// Number of tasks of this process (cheap enough for before/after counts).
func currentTaskCount() -> Int { currentTaskIDs().count }

/// Reads a small /proc file (not seekable files: read until EOF).
func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// `Cpus_allowed_list` and `Name` of a task of this process, nil if it has exited.
func taskInfo(_ tid: Int32) -> (name: String, cpusAllowed: String)? {
    guard let status = readSmallFile("/proc/self/task/\(tid)/status") else { return nil }
    var name = "?"
    var cpus = "?"
    for line in status.split(separator: "\n") {
        if line.hasPrefix("Name:") { name = line.dropFirst(5).trimmingCharacters() }
        if line.hasPrefix("Cpus_allowed_list:") { cpus = line.dropFirst(18).trimmingCharacters() }
    }
    return (name, cpus)
}

extension Substring {
    func trimmingCharacters() -> String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
