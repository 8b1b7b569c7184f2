import CRealtimeIOShims
import Foundation
import RealtimeIOLinux
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("System: thread stat")
struct SystemThreadStatTests {
    /// A stat line whose name holds spaces, parentheses and a `)` followed by
    /// digits, as a hostile thread name can: every field after it still lines up.
    @Test func parsesANameWithSpacesAndParentheses() throws {
        let fields = (3...52).map { n -> String in
            switch n {
            case 3: "S"
            case 10: "111"     // minflt
            case 12: "222"     // majflt
            case 19: "-7"      // nice
            case 22: "98765"   // starttime
            case 39: "1"       // processor
            case 40: "0"       // rt_priority
            case 41: "3"       // policy (SCHED_BATCH)
            default: "\(n * 1000)"
            }
        }
        let name = "a) 1 2 (b) c"
        let line = "4242 (\(name)) " + fields.joined(separator: " ") + "\n"
        let stat = try #require(ThreadStat.parse(line))
        #expect(stat.id == 4242)
        #expect(stat.command == name)
        #expect(stat.state == "S")
        #expect(stat.minorFaults == 111)
        #expect(stat.majorFaults == 222)
        #expect(stat.nice == -7)
        #expect(stat.startTime == 98765)
        #expect(stat.processor == 1)
        #expect(stat.realtimePriority == 0)
        #expect(stat.policy == 3)
        #expect(!stat.hasExited)

        #expect(ThreadStat.parse("") == nil)
        #expect(ThreadStat.parse("12 (x) S 1 2 3") == nil)  // too few fields
        #expect(ThreadStat.parse("12 x) S") == nil)
    }

    /// A real thread named with spaces and `)`: the kernel's own line parses.
    @Test func readsARealThreadWithAHostileName() throws {
        let name = "t) 9 (x y"   // 9 bytes; the kernel keeps up to 15
        let tid = SharedCounter()
        let release = SharedFlag()
        let thread = try NativeThread.spawn(attributes: ThreadAttributes(cpus: [0], name: name)) {
            tid.store(Int(rtio_gettid()))
            while !release.isSet { usleep(1000) }
        }
        defer {
            release.set()
            thread.join()
        }
        #expect(waitUntil(seconds: 10) { tid.value != 0 })
        let stat = try #require(ThreadStat.read(tid: Int32(tid.value)))
        #expect(stat.id == Int32(tid.value))
        #expect(stat.command == name)
        #expect(stat.state == "S" || stat.state == "R")
        #expect(stat.processor == 0)
        #expect(stat.policy == Int(SCHED_OTHER))
        // Same process: the thread started no earlier than the process.
        let process = try #require(ThreadStat.read(process: getpid()))
        #expect(stat.startTime >= process.startTime)
        #expect(process.id == getpid())
    }
}
