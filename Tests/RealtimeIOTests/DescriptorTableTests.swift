@testable import RealtimeIO
import Testing

/// The exact-descriptor map behind the drop-in's per-descriptor chains.
@Suite("DescriptorTable")
struct DescriptorTableTests {
    /// Descriptors 65 536 apart once shared one chain (`fd & 0xFFFF`); each is its own entry now.
    @Test("descriptors 65 536 apart are separate entries")
    func farDescriptorsAreDistinct() {
        let table = DescriptorTable(capacity: 8)
        let fds: [Int32] = [3, 3 + 65_536, 3 + 2 * 65_536, 65_536]
        // Numbers a multiple of the table size apart do not share a home.
        #expect(Set([3, 67, 131, 65_539].map(table.home)).count == 4)
        for (i, fd) in fds.enumerated() {
            #expect(table.find(fd) == nil)
            let e = table.insert(fd)
            table.first[e] = Int32(i)
            table.second[e] = Int32(100 + i)
        }
        for (i, fd) in fds.enumerated() {
            let e = table.find(fd)
            #expect(e.map { table.first[$0] } == Int32(i), "fd \(fd)")
            #expect(e.map { table.second[$0] } == Int32(100 + i), "fd \(fd)")
        }
        table.remove(entry: table.find(3)!)
        #expect(table.find(3) == nil)
        #expect(table.find(3 + 65_536).map { table.first[$0] } == 1)
    }

    /// Against a dictionary: 200 000 seeded inserts and removals of descriptors
    /// chosen to collide (shared homes, long probe runs that wrap around the
    /// end of the table), at the table's full capacity. After every step each
    /// descriptor is found with its values, or absent, exactly as in the model.
    @Test("random inserts and removals agree with a dictionary, probe runs wrapping included")
    func agreesWithModel() {
        let capacity = 32
        let table = DescriptorTable(capacity: capacity)
        #expect(table.entryCount == 64)
        // Descriptors whose homes fall in the last few entries, so probe runs wrap to the start.
        var pool: [Int32] = []
        var fd: Int32 = 0
        while pool.count < 48 {
            if table.home(fd) >= table.entryCount - 4 || pool.count < 8 && fd % 65_536 == 7 { pool.append(fd) }
            fd += fd < 1_000_000 ? 1 : 65_536
        }
        var model: [Int32: (Int32, Int32)] = [:]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        var mismatches = 0
        for step in 0..<200_000 {
            let fd = pool[random(pool.count)]
            if let e = table.find(fd) {
                if random(3) == 0 {
                    table.first[e] = Int32(step)
                    model[fd]!.0 = Int32(step)
                } else {
                    table.remove(entry: e)
                    model[fd] = nil
                }
            } else if model.count < capacity {
                let e = table.insert(fd)
                table.first[e] = Int32(step)
                table.second[e] = fd
                model[fd] = (Int32(step), fd)
            }
            if step % 97 == 0 || model.count == capacity {
                for p in pool {
                    let e = table.find(p)
                    if let (a, b) = model[p] {
                        if e == nil || table.first[e!] != a || table.second[e!] != b || table.descriptor(at: e!) != p { mismatches += 1 }
                    } else if e != nil {
                        mismatches += 1
                    }
                }
            }
        }
        #expect(mismatches == 0)
        #expect(pool.contains { table.home($0) == table.entryCount - 1 }, "no probe run starts at the last entry")
    }
}
