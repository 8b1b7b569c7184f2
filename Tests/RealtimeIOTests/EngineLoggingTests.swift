import CLibcap
import CRealtimeIOShims
import Foundation
import Logging
@testable import RealtimeIO
@testable import RealtimeIOLinux
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A LogHandler that keeps every entry, with the kernel thread id that logged it.
struct CapturingLogHandler: LogHandler {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
        var tid: Int32
    }

    final class Store: Sendable {
        let entries = Mutex<[Entry]>([])
        var all: [Entry] { entries.withLock { $0 } }
        func messages(_ level: Logger.Level? = nil) -> [String] {
            all.filter { level == nil || $0.level == level }.map(\.message)
        }
    }

    let store: Store
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        store.entries.withLock {
            $0.append(Entry(level: event.level, message: "\(event.message)", metadata: event.metadata ?? [:], tid: rtio_gettid()))
        }
    }
}

@Suite("EngineLogging")
struct EngineLoggingTests {

    static func logger(_ store: CapturingLogHandler.Store) -> Logger {
        var logger = Logger(label: "realtimeio-test") { _ in CapturingLogHandler(store: store) }
        logger.logLevel = .debug
        return logger
    }

    @Test("start, each worker, shutdown and worker exits are logged on the host's thread; nothing on the I/O path")
    func lifecycle() throws {
        let store = CapturingLogHandler.Store()
        let engine = try IOEngine(configuration: testConfiguration(workers: 2), logger: Self.logger(store))
        let host = rtio_gettid()

        let started = try #require(store.all.first { $0.message == "realtimeio engine started" })
        #expect(started.level == .info)
        #expect(started.metadata["mode"] == "preallocated")
        #expect(started.metadata["workers"] == "2")
        let workersStarted = store.all.filter { $0.message == "realtimeio worker started" }
        #expect(workersStarted.map { $0.metadata["worker"]?.description } == ["rtio-t-0", "rtio-t-1"])
        #expect(workersStarted.allSatisfy { $0.metadata["cpus"] != nil && $0.metadata["scheduling"] == "other:0" },
                "\(workersStarted.map(\.metadata))")
        let afterStart = store.all.count

        // The I/O path logs nothing.
        let n = 200
        for i in 0..<n { try engine.submit(.custom({ _ in 1 }, context: nil), tag: UInt64(i)) }
        #expect(reapAll(engine, count: n).count == n)
        #expect(store.all.count == afterStart, "\(store.messages().suffix(store.all.count - afterStart))")

        engine.shutdown(.drain)
        engine.shutdown(.drain)  // the second call found the shutdown done: it logs nothing
        let messages = store.messages()
        #expect(messages.filter { $0 == "realtimeio engine shutting down" }.count == 1)
        #expect(messages.filter { $0 == "realtimeio engine shut down" }.count == 1)
        let exits = store.all.filter { $0.message == "realtimeio worker exited" }
        #expect(exits.count == 2)
        let completed = exits.compactMap { $0.metadata["completed"].flatMap { Int($0.description) } }.reduce(0, +)
        #expect(completed == n, "\(exits.map(\.metadata))")
        #expect(store.all.last?.metadata["completed"] == "\(n)")

        let workerTIDs = Set(engine.workerThreadIDs)
        #expect(store.all.allSatisfy { $0.tid == host && !workerTIDs.contains($0.tid) },
                "every entry from the creating/shutting-down thread \(host): \(store.all.map(\.tid))")
    }

    @Test("each degradation is logged as a warning with what was requested, applied, why and the remedy")
    func degradationsAreWarnings() throws {
        // Without CAP_SYS_NICE (dropped on this thread only; capabilities are per
        // thread) and with RLIMIT_RTPRIO 0, a fifo group degrades under bestEffort.
        var limit = rlimit()
        getrlimit(Int32(__RLIMIT_RTPRIO.rawValue), &limit)
        try #require(limit.rlim_cur == 0, "the test needs RLIMIT_RTPRIO 0 (ulimit -r 0), the default for root")
        let store = CapturingLogHandler.Store()
        let result = Mutex<Result<[Degradation], EngineError>?>(nil)
        let thread = startThread(name: "no-sys-nice") {
            let caps = cap_get_proc()!
            var nice = cap_value_t(CAP_SYS_NICE)
            cap_set_flag(caps, CAP_EFFECTIVE, 1, &nice, CAP_CLEAR)
            let dropped = cap_set_proc(caps) == 0
            cap_free(UnsafeMutableRawPointer(caps))
            guard dropped else { return }
            do throws(EngineError) {
                let engine = try IOEngine(
                    configuration: testConfiguration(workers: 1, scheduling: .fifo(priority: 10)),
                    logger: Self.logger(store))
                result.withLock { $0 = .success(engine.degradations) }
                engine.shutdown()
            } catch {
                result.withLock { $0 = .failure(error) }
            }
        }
        thread.join()
        let degradations = try #require(try result.withLock { $0 }?.get(), "CAP_SYS_NICE could not be dropped")
        let scheduling = try #require(degradations.first { $0.kind == .scheduling }, "\(degradations)")
        let warnings = store.all.filter { $0.level == .warning }
        #expect(warnings.count == degradations.count, "\(warnings.map(\.message))")
        let warning = try #require(warnings.first { $0.metadata["kind"] == "scheduling" })
        #expect(warning.message.contains(scheduling.description))
        #expect(warning.metadata["requested"] == "fifo:10")
        #expect(warning.metadata["applied"]?.description == scheduling.applied)
        #expect(warning.metadata["remedy"] != nil)
        #expect(store.all.first?.message == "realtimeio engine started")
        #expect(store.all.first?.metadata["degradations"] == "\(degradations.count)")
    }

    @Test("the default logger discards: an engine in a C host or under LD_PRELOAD writes nothing to stderr")
    func defaultIsSilent() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        defer { engine.shutdown() }
        #expect(engine.logger.handler is SwiftLogNoOpLogHandler)
    }
}
