import Foundation
import Testing

@testable import RealtimeIO
@testable import RealtimeIODiagnostics
@testable import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

/// rtio-admin as an operator uses it: engines under other runtime directories,
/// as root and as an unprivileged user, workers moved with chrt, thread-id
/// targets, stale files, on-demand engines, `top` in a terminal and `metrics`.
@Suite("Admin: operator workflows", .serialized, .tags(.needsRoot))
struct AdminOperatorTests {
    static let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

    /// A fresh directory with mode 0700 owned by `uid`.
    func privateDirectory(uid: uid_t = 0) throws -> String {
        let path = "/tmp/rtio-admin-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try #require(mkdir(path, 0o700) == 0, "mkdir \(path)")
        try #require(chown(path, uid, uid) == 0, "chown \(path)")
        return path
    }

    func engines(_ text: String) throws -> [[String: Any]] {
        try jsonObject(text)["engines"] as? [[String: Any]] ?? []
    }

    func workers(_ engine: [String: Any]?) -> [[String: Any]] {
        engine?["workers"] as? [[String: Any]] ?? []
    }

    func applied(_ worker: [String: Any]?, _ key: String) -> Any? {
        (worker?["applied"] as? [String: Any])?[key]
    }

    @Test func engineUnderAnotherRuntimeDirectoryIsFound() throws {
        try requireExecutable("/usr/bin/setpriv")
        let dir = try privateDirectory()
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        var env = ProcessInfo.processInfo.environment
        env["XDG_RUNTIME_DIR"] = dir
        let host = try TestHost(environment: env)
        defer { host.stop() }
        // rtio-admin runs with this process's environment: another runtime directory, or none.
        var mine = ProcessInfo.processInfo.environment
        mine["XDG_RUNTIME_DIR"] = "/nonexistent-runtime-dir"
        let list = try admin(["list", "--json"], environment: mine)
        let found = try #require(try engines(list.out).first { $0["pid"] as? Int == Int(host.pid) }, "\(list.out) \(list.err)")
        #expect((found["path"] as? String)?.hasPrefix(dir + "/rtio/") == true)
        let show = try admin(["show", "\(host.pid)", "--json"], environment: mine)
        #expect(show.status == 0, "\(show.err)")
        #expect(workers(try engines(show.out).first).count == 2)
        // The thread id of a worker shows that worker only.
        let tid = host.workers[1].tid
        let one = try admin(["show", "\(tid)", "--json"], environment: mine)
        #expect(one.status == 0, "\(one.err)")
        #expect(workers(try engines(one.out).first).map { $0["tid"] as? Int } == [Int(tid)])
    }

    @Test func unprivilegedUserSeesOwnEnginesAndPermissionErrors() throws {
        try requireExecutable("/usr/bin/setpriv")
        // A root engine in the fallback directory /dev/shm/rtio (0700 root).
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "XDG_RUNTIME_DIR")
        let rootHost = try TestHost(environment: env)
        defer { rootHost.stop() }
        // A user's engine under that user's runtime directory.
        let userDir = try privateDirectory(uid: 65534)
        defer { _ = try? FileManager.default.removeItem(atPath: userDir) }
        var userEnv = env
        userEnv["XDG_RUNTIME_DIR"] = userDir
        let userHost = try TestHost(launcher: Self.nobody, environment: userEnv)
        defer { userHost.stop() }

        let list = try admin(["list", "--json"], launcher: Self.nobody, environment: userEnv)
        #expect(list.status == 77, "exit \(list.status): \(list.err)")
        #expect(list.err.contains("/dev/shm/rtio") && list.err.contains("permission denied"), "\(list.err)")
        let listed = try engines(list.out).compactMap { $0["pid"] as? Int }
        #expect(listed.contains(Int(userHost.pid)), "\(list.out)")
        #expect(!listed.contains(Int(rootHost.pid)))
        let problems = try jsonObject(list.out)["problems"] as? [[String: Any]] ?? []
        #expect(problems.contains { $0["path"] as? String == "/dev/shm/rtio" && $0["permission"] as? Bool == true })

        let denied = try admin(["show", "\(rootHost.pid)"], launcher: Self.nobody, environment: userEnv)
        #expect(denied.status == 77, "exit \(denied.status): \(denied.err)")
        #expect(denied.err.contains("permission denied"), "\(denied.err)")
        let retune = try admin(["set-priority", "\(rootHost.pid)", "all", "other"], launcher: Self.nobody, environment: userEnv)
        #expect(retune.status == 77, "exit \(retune.status): \(retune.err)")

        // Own engine: shown, with its degradations (no CAP_SYS_NICE: fifo:40 degraded) and requested ≠ applied.
        let own = try admin(["show", "\(userHost.pid)", "--json"], launcher: Self.nobody, environment: userEnv)
        #expect(own.status == 0, "\(own.err)")
        let engine = try engines(own.out).first
        let degradations = engine?["degradations"] as? [[String: Any]] ?? []
        #expect(degradations.contains { $0["kind"] as? String == "scheduling" }, "\(own.out)")
        #expect(workers(engine).allSatisfy { $0["differs"] as? Bool == true })
        // As root, both are listed.
        let all = try admin(["list", "--json"])
        let rootListed = try engines(all.out).compactMap { $0["pid"] as? Int }
        #expect(rootListed.contains(Int(userHost.pid)) && rootListed.contains(Int(rootHost.pid)), "\(all.out)")
    }

    @Test func chrtBatchIdleDeadlineTidTargetsAndExactRollback() throws {
        try requireExecutable("/usr/bin/chrt")
        let host = try TestHost()
        defer { host.stop() }
        let pid = host.pid
        let t0 = host.workers[0].tid, t1 = host.workers[1].tid
        func chrt(_ arguments: [String]) throws {
            let r = try run("/usr/bin/chrt", arguments)
            try #require(r.status == 0, "chrt \(arguments): \(r.output)")
        }
        try chrt(["-b", "-p", "0", "\(t0)"])
        try chrt(["-i", "-p", "0", "\(t1)"])
        var shown = workers(try engines(try admin(["show", "\(pid)", "--json"]).out).first)
        #expect(applied(shown.first { $0["tid"] as? Int == Int(t0) }, "scheduling") as? [String: Int] == ["batch": 0])
        #expect(applied(shown.first { $0["tid"] as? Int == Int(t1) }, "scheduling") as? [String: Int] == ["idle": 0])
        #expect(shown.allSatisfy { $0["differs"] as? Bool == true })

        // A bare priority keeps a real-time policy; on a BATCH thread it is refused and nothing changes.
        let bare = try admin(["set-priority", "\(pid)", "all", "30"])
        #expect(bare.status == 64 && bare.err.contains("batch:0"), "\(bare.err)")
        #expect(ThreadScheduling.read(tid: t0) == .batch(nice: 0) && ThreadScheduling.read(tid: t1) == .idle)

        // Thread-id targets and the ecosystem's spellings, read back exactly.
        let toBatch = try admin(["set-priority", "\(pid)", "\(t1)", "SCHED_BATCH:5", "--json"])
        #expect(toBatch.status == 0, "\(toBatch.err)")
        let outcome = try #require((try jsonObject(toBatch.out)["threads"] as? [[String: Any]])?.first)
        #expect(outcome["tid"] as? Int == Int(t1))
        #expect(outcome["before"] as? [String: Int] == ["idle": 0] && outcome["after"] as? [String: Int] == ["batch": 5])
        #expect(ThreadScheduling.read(tid: t1) == .batch(nice: 5))
        #expect(ThreadScheduling.read(tid: t0) == .batch(nice: 0))
        #expect(try admin(["set-priority", "\(pid)", "rtio-adm-0", "f:20"]).status == 0)
        #expect(ThreadScheduling.read(tid: t0) == .fifo(priority: 20))
        #expect(try admin(["set-priority", "\(pid)", "rtio-adm-0", "25"]).status == 0)
        #expect(ThreadScheduling.read(tid: t0) == .fifo(priority: 25))
        #expect(try admin(["set-priority", "\(t0)", "\(t0)", "i"]).status == 0)  // a tid as PID too
        #expect(ThreadScheduling.read(tid: t0) == .idle)
        let notWorker = try admin(["set-priority", "\(pid)", "\(pid)", "other"])
        #expect(notWorker.status == 64 && notWorker.err.contains("not a worker"), "\(notWorker.err)")

        // I/O priority as ionice.
        #expect(try admin(["set-ioprio", "\(pid)", "\(t0)", "be:7"]).status == 0)
        #expect(IOPriority.read(tid: t0) == .some(.bestEffort(level: 7)))
        #expect(try admin(["set-ioprio", "\(pid)", "rtio-adm-0", "idle"]).status == 0)
        shown = workers(try engines(try admin(["show", "\(pid)", "--json"]).out).first)
        #expect(applied(shown.first, "ioPriority") as? [String: Int] == ["idle": 0])

        // Rollback restores exactly what was read: worker 1 in SCHED_DEADLINE refuses a
        // narrower affinity (EBUSY), so worker 0's change is undone.
        try chrt(["-d", "--sched-runtime", "100000", "--sched-deadline", "1000000", "--sched-period", "1000000", "-p", "0", "\(t1)"])
        shown = workers(try engines(try admin(["show", "\(pid)", "--json"]).out).first)
        #expect((applied(shown.last, "scheduling") as? [String: Any])?["deadline"] != nil, "\(shown)")
        let before = try SystemTopology.allowedCPUs(tid: t0)
        let online = try SystemTopology.onlineCPUs()
        let narrow = "\(online.cpus.last!)"
        let failed = try admin(["set-affinity", "\(pid)", "all", narrow, "--json"])
        #expect(failed.status == 71, "exit \(failed.status): \(failed.err)")
        let threads = try jsonObject(failed.out)["threads"] as? [[String: Any]] ?? []
        #expect(threads.map { $0["status"] as? String } == ["rolledBack", "failed"], "\(failed.out)")
        #expect(try SystemTopology.allowedCPUs(tid: t0) == before)
        try chrt(["-o", "-p", "0", "\(t1)"])
    }

    @Test func staleFilesHiddenByDefault() throws {
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        defer { engine.shutdown() }
        let template = try Data(contentsOf: URL(fileURLWithPath: try #require(engine.statusFilePath)))
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        var bytes = [UInt8](template)
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: Int64(child.processIdentifier), toByteOffset: StatusFileLayout.Header.pid, as: Int64.self) }
        let path = "\(StatusFile.directory)/\(child.processIdentifier)-gone.status"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]))
        defer { unlink(path) }

        let list = try admin(["list", "--json"])
        #expect(try engines(list.out).allSatisfy { $0["path"] as? String != path })
        #expect((try jsonObject(list.out)["hiddenStale"] as? Int ?? 0) >= 1)
        #expect(try engines(list.out).contains { $0["pid"] as? Int == Int(getpid()) })
        let all = try admin(["list", "--all", "--json"])
        #expect(try engines(all.out).first { $0["path"] as? String == path }?["stale"] as? Bool == true)
        let table = try admin(["list"])
        #expect(table.out.contains("stale status file(s) hidden") && !table.out.contains(path))
        let removed = try admin(["list", "--remove-stale", "--json"])
        #expect(try engines(removed.out).first { $0["path"] as? String == path }?["removed"] as? Bool == true)
        #expect(access(path, F_OK) != 0)
    }

    @Test func onDemandEngineShowsModeAndWorkers() throws {
        let sleeper: CustomBlockingCall = { _ in usleep(300_000); return 0 }
        let configuration = EngineConfiguration(
            groups: [], requestsInFlight: 8, privilegePolicy: .bestEffort, spinBudget: .nanoseconds(0),
            onDemand: .init(maxThreads: 4, idleTimeout: .seconds(10), spawner: .spawnerThread))
        let engine = try IOEngine(configuration: configuration)
        defer { engine.shutdown() }
        for tag in 0..<2 { try engine.submit(.custom(sleeper, context: nil), tag: UInt64(tag)) }
        #expect(reapAll(engine, count: 2).count == 2)  // the workers now idle for 10 s
        let show = try admin(["show", "\(getpid())", "--json"])
        #expect(show.status == 0, "\(show.err)")
        let mine = try #require(try engines(show.out).first { $0["engine"] as? String == "engine" }, "\(show.out)")
        #expect(mine["mode"] as? String == "onDemand")
        #expect(mine["onDemandMaxThreads"] as? Int == 4)
        let od = mine["onDemandWorkers"] as? [[String: Any]] ?? []
        #expect(!od.isEmpty && Set(od.compactMap { $0["tid"] as? Int }).isSubset(of: Set(engine.onDemandWorkerThreadIDs.map(Int.init))), "\(od)")
        #expect(mine["degradations"] as? [Any] != nil)  // published: an empty list, not null
    }

    @Test func metricsParseWithPrometheusClientAndServeOverHTTP() throws {
        let probe = try run("/usr/bin/env", ["python3", "-c", "import prometheus_client"])
        try #require(probe.status == 0, "python3 prometheus_client is missing: run tools/setup")
        let host = try TestHost()
        defer { host.stop() }
        let parse = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            for f in text_string_to_metric_families(sys.stdin.read()):
                out[f.name] = {"type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]}
            print(json.dumps(out))
            """
        let text = try admin(["metrics", "--pid", "\(host.pid)"])
        #expect(text.status == 0, "\(text.err)")
        let parsed = try runPython(parse, input: text.out)
        let families = try jsonObject(parsed)
        #expect((families["rtio_worker_completed"] as? [String: Any])?["type"] as? String == "counter")
        #expect((families["rtio_worker_queue_depth"] as? [String: Any])?["type"] as? String == "gauge")
        let service = try #require(families["rtio_worker_service_seconds"] as? [String: Any], "\(families.keys)")
        #expect(service["type"] as? String == "histogram")
        let samples = service["samples"] as? [[Any]] ?? []
        let count = samples.first { ($0[0] as? String) == "rtio_worker_service_seconds_count" && (($0[1] as? [String: String])?["worker"] == "rtio-adm-0") }
        #expect((count?[2] as? Double ?? 0) > 0, "\(samples.prefix(3))")

        // Served over HTTP on loopback, scraped and parsed.
        let server = Process()
        server.executableURL = URL(fileURLWithPath: builtProduct("rtio-admin"))
        server.arguments = ["metrics", "--listen", "0", "--pid", "\(host.pid)"]
        let pipe = Pipe()
        server.standardOutput = pipe
        try server.run()
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let banner = String(decoding: line, as: UTF8.self)
        #expect(banner.hasPrefix("serving http://127.0.0.1:"), "\(banner)")
        let url = try #require(banner.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        let scrape = """
            import json, sys, urllib.request, urllib.error
            from prometheus_client.parser import text_string_to_metric_families
            r = urllib.request.urlopen(sys.argv[1], timeout=30)
            body = r.read().decode()
            names = sorted(f.name for f in text_string_to_metric_families(body))
            try:
                urllib.request.urlopen(sys.argv[1].replace("/metrics", "/other"), timeout=30)
                other = 200
            except urllib.error.HTTPError as e:
                other = e.code
            print(json.dumps({"status": r.status, "type": r.headers["Content-Type"], "names": names, "other": other}))
            """
        let scraped = try jsonObject(try runPython(scrape, input: "", arguments: [url]))
        #expect(scraped["status"] as? Int == 200)
        #expect((scraped["type"] as? String)?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect((scraped["names"] as? [String])?.contains("rtio_worker_service_seconds") == true)
        #expect(scraped["other"] as? Int == 404)
    }

    @Test func topRunsInATerminalAndOnceWithout() throws {
        try requireExecutable("/usr/bin/tmux")
        let host = try TestHost()
        defer { host.stop() }
        let once = try admin(["top", "--once", "--interval", "0.2", "--pid", "\(host.pid)"])
        #expect(once.status == 0, "\(once.err)")
        #expect(once.out.contains("rtio-adm-0") && once.out.contains("DONE/S") && !once.out.contains("\u{1B}["), "\(once.out)")

        // A private tmux server (-L): started by the first command, killed at the end. Its
        // output goes to /dev/null: the server outlives the command and would hold a pipe open.
        let socket = "rtio-admin-test-\(getpid())"
        let session = "top"
        // posix_spawn + waitpid, not Foundation's Process: the daemonised tmux server
        // inherits the descriptor Process watches for its child's exit, so waitUntilExit
        // would wait for the server.
        func tmux(_ arguments: [String]) throws -> (status: Int32, output: String) {
            let out = "/tmp/\(socket)-\(UInt32.random(in: 0...UInt32.max)).out"
            defer { unlink(out) }
            let argv = ["/usr/bin/tmux", "-L", socket] + arguments
            var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
            defer { for p in cargs { free(p) } }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            var pid: pid_t = 0
            try #require(posix_spawn(&pid, argv[0], &actions, nil, &cargs, environ) == 0, "posix_spawn tmux")
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            return (code, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
        }
        let command = "\(builtProduct("rtio-admin")) top --interval 0.2 --pid \(host.pid)"
        #expect(try tmux(["new-session", "-d", "-s", session, "-x", "200", "-y", "40", command]).status == 0)
        defer { _ = try? tmux(["kill-server"]) }
        func screen(until text: String) throws -> String {
            var last = ""
            for _ in 0..<300 {
                last = try tmux(["capture-pane", "-p", "-t", session]).output
                if last.contains(text) { return last }
                usleep(50_000)
            }
            Issue.record("'\(text)' never appeared; screen:\n\(last)")
            return last
        }
        let first = try screen(until: "rtio-adm-1")
        #expect(first.contains("sorted by cpu") && first.contains("\(host.pid)"))
        _ = try tmux(["send-keys", "-t", session, "n"])
        _ = try screen(until: "sorted by name")
        _ = try tmux(["send-keys", "-t", session, "q"])
        var gone = false
        for _ in 0..<200 where !gone {
            gone = try tmux(["has-session", "-t", session]).status != 0
            if !gone { usleep(50_000) }
        }
        #expect(gone, "top did not quit on q")
    }

    func runPython(_ script: String, input: String, arguments: [String] = []) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script] + arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        p.standardError = stderr
        try p.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "python: \(String(decoding: err, as: UTF8.self))")
        return String(decoding: out, as: UTF8.self)
    }
}
