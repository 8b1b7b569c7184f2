import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// fio's posixaio engine under the drop-in: data intact with verify=crc32c at
// several depths and jobs, and the preload really serving fio.
private let fioPath = ["/usr/bin/fio", "/usr/local/bin/fio"].first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite("AIOFio", .serialized, .tags(.cPrograms))
struct AIOFioTests {
    @Test("fio randwrite with verify=crc32c, 4 jobs, iodepth 1/8/32: no verify error; randread IOPS", arguments: [1, 8, 32])
    func verify(depth: Int) throws {
        let fio = try #require(fioPath, "fio is not installed (/usr/bin/fio or /usr/local/bin/fio): run tools/setup")
        guard let lib = aioLibrary() else { return }
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let write = try cRun(fio, ["--name=w", "--ioengine=posixaio", "--rw=randwrite", "--bs=4k", "--size=8m", "--iodepth=\(depth)",
                                    "--numjobs=4", "--directory=\(dir)", "--verify=crc32c", "--do_verify=1", "--verify_state_save=0",
                                    "--output-format=json"],
                             environment: ["LD_PRELOAD": lib, "XDG_RUNTIME_DIR": dir], timeout: 300)
        #expect(write.status == 0, "stdout:\n\(write.stdout)\nstderr:\n\(write.stderr)")
        #expect(!write.stdout.contains("verify: bad") && !write.stderr.contains("verify: bad"), "\(write.stdout)\n\(write.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(write.stdout.utf8)) as? [String: Any]
        let jobs = json?["jobs"] as? [[String: Any]] ?? []
        #expect(jobs.count == 4)
        for job in jobs { #expect(job["error"] as? Int == 0, "\(job)") }
        // Every fio process removed its status file at exit.
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/rtio")) ?? []).filter { $0.hasSuffix(".status") }
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test("fio randread through the drop-in: the preload serves fio (RTIO_AIO_VERBOSE) and completes reads")
    func randread() throws {
        let fio = try #require(fioPath, "fio is not installed (/usr/bin/fio or /usr/local/bin/fio): run tools/setup")
        guard let lib = aioLibrary() else { return }
        let dir = try aioScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/fio.dat"
        let read = try cRun(fio, ["--name=r", "--ioengine=posixaio", "--rw=randread", "--bs=4k", "--size=32m", "--iodepth=8",
                                   "--filename=\(file)", "--time_based", "--runtime=2", "--output-format=json"],
                            environment: ["LD_PRELOAD": lib, "RTIO_AIO_VERBOSE": "1"], timeout: 300)
        #expect(read.status == 0, "\(read.stderr)")
        #expect(read.stderr.contains("rtio-aio: engine started"), "\(read.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: Any]
        let job = (json?["jobs"] as? [[String: Any]])?.first
        let iops = (job?["read"] as? [String: Any])?["iops"] as? Double ?? 0
        print("fio randread 4k iodepth 8 through librtio-aio.so: \(Int(iops)) IOPS")
        #expect(iops > 1000, "\(read.stdout)")
    }
}
