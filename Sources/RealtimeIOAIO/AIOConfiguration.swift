// The drop-in's engine configuration: the JSON file named by RTIO_AIO_CONFIG,
// or a safe unprivileged default.
import RealtimeIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Where the drop-in's ``EngineConfiguration`` and ``DropInSettings`` come from.
///
/// The file is read with the loader every host uses
/// (`EngineConfiguration(jsonBytes:)`), so a bad file is reported with the
/// same message as through the C ABI. Whatever the file says:
/// - completions are delivered with `.workerHandler` (the drop-in writes
///   results into the aiocb on the worker thread);
/// - on-demand workers (on-demand and hybrid modes) are created by the
///   engine's spawner thread (`.spawnerThread`): a preloaded library has no
///   host loop to run `.hostLoop`'s bottom half.
enum AIOConfiguration {
    /// The default engine: unprivileged, no memory locking, no malloc tuning,
    /// no CPUs configured — its workers (and the `SIGEV_THREAD` notifiers) are
    /// born with the process's allowed CPUs, not those of the thread that made
    /// the first `aio_*` call.
    static var defaultConfiguration: EngineConfiguration {
        let cpus = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        return EngineConfiguration(
            groups: [.init(name: "aio", workers: min(4, max(2, cpus)), scheduling: .other(nice: 0), stackSize: 256 * 1024,
                           stackPrefaultBytes: 32 * 1024)],
            ringCapacity: 1024, requestsInFlight: 1024, memoryLocking: .none, privilegePolicy: .bestEffort,
            spinBudget: .nanoseconds(50_000), tuneMalloc: false)
    }

    /// Reads RTIO_AIO_CONFIG (a JSON file path) or returns the defaults.
    static func load() -> Result<(EngineConfiguration, DropInSettings), AIOContext.StartFailure> {
        guard let pathC = getenv("RTIO_AIO_CONFIG"), pathC.pointee != 0 else {
            return .success((defaultConfiguration, DropInSettings()))
        }
        let path = String(cString: pathC)
        let bytes: [UInt8]
        switch readFile(path) {
        case .success(let b): bytes = b
        case .failure(let f): return .failure(f)
        }
        do {
            var c = try EngineConfiguration(jsonBytes: bytes)
            // The drop-in's workers run each request as a call of their own
            // (SlotOperation): a worker's io_uring would not carry them, and
            // glibc runs one request of a descriptor at a time.
            if let g = c.groups.firstIndex(where: { $0.inFlight > 1 }) {
                throw ConfigurationError(
                    field: "groups[\(g)].inFlight", problem: "\(c.groups[g].inFlight) requests in flight per worker",
                    remedy: "leave inFlight out (1) for the POSIX AIO drop-in; for reads at depth use more workers and \"aio\":{\"ordering\":\"spreadReads\"}")
            }
            let settings = try DropInSettings(json: bytes)
            c.onDemand?.spawner = .spawnerThread  // no host loop in a preloaded library
            return .success((c, settings))
        } catch {
            return .failure(AIOContext.StartFailure(message: "RTIO_AIO_CONFIG=\(path): \(error)"))
        }
    }

    /// The whole file; a read error (other than EINTR, retried) is a failure,
    /// never taken for the end of the file.
    static func readFile(_ path: String) -> Result<[UInt8], AIOContext.StartFailure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            return .failure(AIOContext.StartFailure(message: "RTIO_AIO_CONFIG=\(path): cannot open: \(Errno(rawValue: errno))"))
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(AIOContext.StartFailure(
                    message: "RTIO_AIO_CONFIG=\(path): cannot read: \(Errno(rawValue: errno)); give a readable JSON file"))
            }
            if n == 0 { return .success(bytes) }
            bytes += chunk[0..<n]
        }
    }
}
