import Foundation
import Testing

// BEGIN EMBEDDING EXAMPLE
import RealtimeIO
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Reads the first 4 KiB of `path` through a RealtimeIO engine.
func embeddingExample(path: String) throws -> Int {
    // 1. At startup: memory locking is process-wide, so it is one explicit call,
    //    made once before any engine. Then one engine; its worker is born on CPU 1
    //    at SCHED_FIFO 40, whatever thread runs this. Anything that could not be
    //    applied (no CAP_SYS_NICE, say) is reported, not silently dropped.
    do { try ProcessMemory.lock(.currentAndFuture) } catch { print("rtio: memory not locked: \(error)") }
    let configuration = EngineConfiguration(
        groups: [.init(name: "io", workers: 1, cpus: try CPUList(parsing: "1"), scheduling: .fifo(priority: 40))],
        privilegePolicy: .bestEffort, spinBudget: .microseconds(20))
    let engine = try IOEngine(configuration: configuration)
    defer { engine.shutdown(.drain) }
    for line in engine.degradations { print("rtio: not applied: \(line)") }

    // 2. Submit from any thread: no lock, no allocation, no syscall while the worker is awake.
    let fd = try FileDescriptor.open(path, .readOnly)
    defer { try? fd.close() }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
    defer { buffer.deallocate() }
    try engine.submit(.read(fd, into: buffer, at: 0), tag: 42)

    // 3. The host's loop, on this thread: spin briefly, then sleep on the completion
    //    eventfd (re-armed and re-checked first, so no completion is missed), then reap.
    var result: Int?
    while result == nil {
        engine.reap(waitingUpTo: .seconds(1), spinFor: .microseconds(20)) { completion in
            if completion.tag == 42 { result = completion.result }
        }
    }
    // 4. Bytes read, or -errno.
    return result!
}
// END EMBEDDING EXAMPLE

@Suite("Embedding example")
struct EmbeddingExampleTests {
    @Test("the README's host example compiles, runs and reads the file")
    func runsAndMatchesREADME() throws {
        let path = NSTemporaryDirectory() + "rtio-embed-\(getpid())"
        try Data(repeating: 0x5A, count: 10_000).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        // The example locks this whole test process's memory, current and
        // future (every later thread's 8 MiB stack faulted in at creation):
        // undo that for the tests that run after it.
        defer { munlockall() }
        #expect(try embeddingExample(path: path) == 4096)

        // The README shows exactly this code.
        let here = URL(fileURLWithPath: #filePath)
        let source = try String(contentsOf: here, encoding: .utf8)
        let start = source.range(of: "// BEGIN EMBEDDING EXAMPLE\n")!.upperBound
        let end = source.range(of: "// END EMBEDDING EXAMPLE")!.lowerBound
        let example = String(source[start..<end])
        let readme = try String(
            contentsOf: here.deletingLastPathComponent().appendingPathComponent("../../README.md").standardized,
            encoding: .utf8)
        #expect(readme.contains(example), "README.md's Embedding section must contain the example verbatim")
    }
}
