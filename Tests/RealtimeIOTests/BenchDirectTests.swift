import Foundation
import Testing

/// rtio-bench as a program: the liburing engines run, `--direct` reads a real device, and every
/// engine gets a CPU-per-I/O figure. Counts and presence only, never timings.
@Suite(.tags(.cPrograms), .serialized)
struct BenchDirectTests {
    /// liburing-dev (pkg-config liburing) is what the io_uring-async/-sqpoll engines build against.
    private func requireLiburing() throws {
        let found = (try? run("/usr/bin/pkg-config", ["--exists", "liburing"]))?.status == 0
        try #require(found, "liburing-dev is missing (pkg-config liburing): run tools/setup")
    }

    /// Cells of the table row of `engine` under `column` in rtio-bench's stdout table.
    private func column(_ name: String, of engine: String, in table: String) -> String? {
        let lines = table.split(separator: "\n").map(String.init)
        guard let header = lines.first(where: { $0.hasPrefix("engine ") }) else { return nil }
        let names = header.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        // Header cells are single words except "sub p50"/"sub p99"/"sub rq"/"sub nivcsw"/"wake p99".
        var merged: [String] = []
        var i = 0
        while i < names.count {
            if (names[i] == "sub" || names[i] == "wake"), i + 1 < names.count {
                merged.append(names[i] + " " + names[i + 1]); i += 2
            } else {
                merged.append(names[i]); i += 1
            }
        }
        guard let index = merged.firstIndex(of: name),
              let row = lines.first(where: { $0.hasPrefix(engine + " ") }) else { return nil }
        let cells = row.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        return index < cells.count ? cells[index] : nil
    }

    /// The built rtio-bench (failing, naming tools/setup, when it is missing) and a fresh folder
    /// under `parent` for its files, removed after `body`.
    private func withBench(in parent: String, _ label: String, _ body: (_ bench: String, _ dir: String) throws -> Void) throws {
        let bench = builtProduct("rtio-bench")
        try requireExecutable(bench)
        let dir = parent + "/rtio-bench-\(label)-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(bench, dir)
    }

    @Test("--direct: io_uring-async hands reads to io-wq, and every engine reports a nonzero CPU per read")
    func directRunReportsEnginesAndCPUPerRead() throws {
        try requireLiburing()
        // O_DIRECT needs a block-device file system: /var/tmp, not a tmpfs /tmp.
        try withBench(in: "/var/tmp", "direct") { bench, dir in
            let engines = ["io_uring", "io_uring-async", "io_uring-sqpoll", "prealloc-group"]

            let process = Process()
            process.executableURL = URL(fileURLWithPath: bench)
            process.currentDirectoryURL = URL(fileURLWithPath: dir)
            process.arguments = ["throughput", "--direct", "--engines", engines.joined(separator: ","),
                                 "--depths", "1,4", "--duration", "0.3", "--warmup", "0.05", "--file-size", "8",
                                 "--out", "\(dir)/out", "--json", "\(dir)/result.json"]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            try #require(process.terminationStatus == 0, "rtio-bench failed:\n\(output)")

            #expect(output.contains("O_DIRECT"))
            #expect(output.contains("inline, no hand-off"))
            for engine in engines {
                let cell = column("cpu/IO", of: engine, in: output)
                #expect(cell != nil, "no \(engine) row with a cpu/IO cell in:\n\(output)")
                #expect((cell.flatMap(Double.init) ?? 0) > 0, "\(engine): cpu/IO \(cell ?? "nil")")
            }

            let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/result.json"))
            let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let entries = try #require(doc["engines"] as? [[String: Any]])
            #expect(doc["load_average"] is String)
            for entry in entries {
                let name = entry["name"] as? String ?? "?"
                #expect(entry["skipped"] is NSNull, "\(name) skipped: \(entry["skipped"] ?? "")")
                #expect((entry["cpu_ns_per_op"] as? Int ?? 0) > 0, "\(name): cpu_ns_per_op")
                #expect((entry["iops"] as? Double ?? 0) > 0, "\(name): no reads")
                let threads = entry["engine_threads"] as? [String] ?? []
                switch name {
                case "io_uring-async":
                    // IOSQE_ASYNC: the reads ran on io-wq workers, whose CPU the "wrk" column counts.
                    #expect(threads.contains { $0.hasPrefix("iou-wrk") }, "io_uring-async threads: \(threads)")
                    #expect((entry["worker_cpu_ns_per_op"] as? Int ?? 0) > 0)
                case "io_uring-sqpoll":
                    #expect(threads.contains { $0.hasPrefix("iou-sqp") }, "io_uring-sqpoll threads: \(threads)")
                case "prealloc-group":
                    // One worker per read in flight at depth 4.
                    if entry["depth"] as? Int == 4 { #expect(threads.contains { $0.contains("x4 ") }, "\(threads)") }
                default: break
                }
            }
        }
    }

    /// The yardstick engine is a real hand-off: its reads run on its one worker, on the CPU the
    /// submitter does not use, and every checked read carries the file's bytes.
    @Test("handoff-floor: reads run on its worker on the other CPU and verify")
    func handoffFloorReadsVerify() throws {
        try withBench(in: NSTemporaryDirectory(), "floor") { bench, dir in
            let result = try run(bench, ["throughput", "--engines", "handoff-floor", "--depths", "1,8", "--duration", "0.3",
                                         "--warmup", "0.05", "--file-size", "8", "--out", "\(dir)/out", "--json", "\(dir)/result.json"])
            try #require(result.status == 0, "rtio-bench failed:\n\(result.output)")
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/result.json"))
            let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let entries = try #require(doc["engines"] as? [[String: Any]])
            #expect(entries.count == 2)
            for entry in entries {
                #expect(entry["skipped"] is NSNull, "skipped: \(entry["skipped"] ?? "")")
                #expect((entry["verified_reads"] as? Int ?? 0) > 0, "no read was checked")
                #expect(entry["verify_errors"] as? Int == 0 && entry["read_errors"] as? Int == 0, "\(entry)")
                // One worker, pinned to the CPU the submitter (CPU 0) does not use.
                #expect(entry["engine_threads"] as? [String] == ["rtio-bench x1 (OTHER, cpus 1)"], "\(entry["engine_threads"] ?? "")")
                #expect((entry["worker_cpu_ns_per_op"] as? Int ?? 0) > 0, "the worker ran the reads")
            }
        }
    }

    /// The engines built on `IOEngine` (preallocated and on-demand) in the burst and the closed
    /// loop: every read of every burst completes and verifies, and the closed loop completes
    /// reads. A bench engine that refused every submit used to hang the burst (the README's first
    /// command never ended) and showed a closed loop of zero reads without failing.
    @Test("IOEngine-backed engines complete and verify every read of a burst and of a closed loop")
    func engineBackedEnginesCompleteTheirReads() throws {
        try withBench(in: NSTemporaryDirectory(), "engines") { bench, dir in
            let engines = ["prealloc-spin", "prealloc-park", "ondemand"]
            func entries(_ arguments: [String], json: String) throws -> [[String: Any]] {
                let result = try run(bench, arguments + ["--engines", engines.joined(separator: ","), "--file-size", "8",
                                                         "--out", "\(dir)/out", "--json", json])
                try #require(result.status == 0, "rtio-bench failed:\n\(result.output)")
                let doc = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
                return try #require(doc["engines"] as? [[String: Any]])
            }
            let burst = try entries(["burst", "--reps", "2", "--burst", "16"], json: "\(dir)/burst.json")
            #expect(burst.compactMap { $0["name"] as? String } == engines)
            for entry in burst {
                #expect(entry["skipped"] is NSNull, "\(entry["name"] ?? ""): skipped \(entry["skipped"] ?? "")")
                #expect(entry["verified_reads"] as? Int == 2 * 16, "\(entry["name"] ?? ""): \(entry["verified_reads"] ?? "")")
                #expect(entry["verify_errors"] as? Int == 0 && entry["read_errors"] as? Int == 0, "\(entry)")
            }
            let loop = try entries(["throughput", "--depths", "1", "--duration", "0.2", "--warmup", "0.05"],
                                   json: "\(dir)/throughput.json")
            #expect(loop.count == engines.count)
            for entry in loop {
                #expect(entry["skipped"] is NSNull, "\(entry["name"] ?? ""): skipped \(entry["skipped"] ?? "")")
                #expect((entry["verified_reads"] as? Int ?? 0) > 0, "\(entry["name"] ?? ""): no read completed")
                #expect(entry["verify_errors"] as? Int == 0 && entry["read_errors"] as? Int == 0, "\(entry)")
            }
        }
    }
}
