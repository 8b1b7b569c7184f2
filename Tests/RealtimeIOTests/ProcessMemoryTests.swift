import Foundation
@testable import RealtimeIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Process memory policy", .serialized, .tags(.needsRoot))
struct ProcessMemoryTests {
    @Test("ProcessMemory.lock is the explicit call; the engine reports the process's lock")
    func lockAndReport() throws {
        munlockall()
        defer { munlockall() }
        // An engine without memoryLocking changes nothing process-wide.
        let engine = try IOEngine(configuration: testConfiguration(workers: 1))
        defer { engine.shutdown() }
        #expect(!engine.isMemoryLocked, "engine creation locked memory without being asked")
        try ProcessMemory.lock(.current, tuneMalloc: false)
        #expect(ProcessMemory.isLocked)
        #expect(engine.isMemoryLocked)
        munlockall()
        #expect(!engine.isMemoryLocked)
        try ProcessMemory.lock(.none)
        #expect(!ProcessMemory.isLocked, ".none must not lock")
    }
}
