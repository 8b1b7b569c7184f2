import CRealtimeIOShims
import Dispatch
import Foundation
import SystemPackage
import Testing

@testable import RealtimeIO
@testable import RealtimeIOLinux

#if canImport(Glibc)
import Glibc
#endif

@Suite("System: CPUList")
struct SystemCPUListTests {
    @Test(arguments: [
        ("0-3,6", "0-3,6", [0, 1, 2, 3, 6]),
        ("1", "1", [1]),
        ("0,1", "0-1", [0, 1]),
        ("  0-1\n", "0-1", [0, 1]),
        ("6,0-3,2,3", "0-3,6", [0, 1, 2, 3, 6]),
        ("0-7:1/2", "0,2,4,6", [0, 2, 4, 6]),
        ("0-9:2/5", "0-1,5-6", [0, 1, 5, 6]),
        ("1, 3 ,5-6", "1,3,5-6", [1, 3, 5, 6]),
        ("1023", "1023", [1023]),
    ])
    func parsesAndFormats(input: String, formatted: String, cpus: [Int]) throws {
        let list = try CPUList(parsing: input)
        #expect(list.cpus == cpus)
        #expect(list.description == formatted)
        #expect(list.count == cpus.count)
        // Round trip through the compact form.
        #expect(try CPUList(parsing: list.description) == list)
    }

    @Test func emptyOnlyWhenAllowed() throws {
        #expect(try CPUList(parsing: "\n", allowEmpty: true).isEmpty)
        #expect(try CPUList(parsing: "", allowEmpty: true).description == "")
        let error = #expect(throws: CPUListError.self) { try CPUList(parsing: "") }
        #expect(error?.reason == .empty)
        #expect(error?.description == "invalid CPU list '': the list is empty; use a list like 0-3,6")
    }

    @Test(arguments: [
        ("a", CPUListError.Reason.notANumber("a")),
        ("3-1", .reversedRange(start: 3, end: 1)),
        ("1,,2", .emptyEntry),
        (",1", .emptyEntry),
        ("1,", .emptyEntry),
        ("-1", .negative),
        ("5000", .aboveMaximum(cpu: 5000, maximum: 1023)),
        ("0-5000", .aboveMaximum(cpu: 5000, maximum: 1023)),
        ("+1", .notANumber("+1")),
        ("0x1", .notANumber("0x1")),
        ("1-2-3", .notANumber("2-3")),
        ("0-7:3/2", .badStride("3/2")),
        ("3:1/2", .strideWithoutRange),
    ])
    func rejectsMalformed(input: String, reason: CPUListError.Reason) throws {
        #expect(CPUList.maximumCPU == 1023)
        let error = #expect(throws: CPUListError.self) { try CPUList(parsing: input) }
        #expect(error?.reason == reason)
        #expect(error?.description.hasPrefix("invalid CPU list '\(input)': ") == true)
        #expect(error?.description.hasSuffix("; use a list like 0-3,6") == true)
    }

    @Test func errorMessagesNameTheProblem() {
        func message(_ text: String) -> String {
            do {
                _ = try CPUList(parsing: text)
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(message("3-1") == "invalid CPU list '3-1': range end 1 is below start 3; use a list like 0-3,6")
        #expect(message("5000").contains("CPU 5000 is above the maximum 1023"))
        #expect(message("1,,2").contains("empty entry"))
        #expect(message("-1").contains("'-1' is negative"))
        #expect(message("a").contains("'a' is not a CPU number"))
        #expect(message("99999999999999999999999").contains("above the maximum"))
    }

    @Test func arrayInitSortsMergesAndValidates() throws {
        let list = try CPUList([6, 1, 1, 0, 2, 3])
        #expect(list.cpus == [0, 1, 2, 3, 6])
        #expect(list.description == "0-3,6")
        #expect(list.contains(6) && list.contains(0) && !list.contains(4) && !list.contains(7))
        #expect(try CPUList([0, 6]).isSubset(of: list))
        #expect(try !CPUList([0, 4]).isSubset(of: list))
        #expect(CPUList().isSubset(of: list))
        #expect(try list.intersection(CPUList([3, 4, 6])) == CPUList([3, 6]))
        #expect(try list.subtracting(CPUList([0, 1])).description == "2-3,6")
        #expect(try list.union(CPUList([4, 5])).description == "0-6")
        #expect(Array(list) == [0, 1, 2, 3, 6])

        #expect(throws: CPUListError.self) { try CPUList([1, -1]) }
        let tooBig = #expect(throws: CPUListError.self) { try CPUList([1024]) }
        #expect(tooBig?.reason == .aboveMaximum(cpu: 1024, maximum: 1023))
    }

    @Test func cpuSetRoundTrip() throws {
        for text in ["0", "0-3,6", "1023", "0,63-65,511,1000-1023"] {
            let list = try CPUList(parsing: text)
            var set = list.cpuSet
            #expect(Int(rtio_cpuset_count(&set)) == list.count)
            for cpu in 0...CPUList.maximumCPU {
                #expect(rtio_cpuset_contains(&set, Int32(cpu)) == list.contains(cpu))
            }
            #expect(CPUList(set) == list)
        }
        #expect(CPUList(rtio_cpu_set()).isEmpty)
    }

    @Test func codableUsesStringForm() throws {
        struct Wrapper: Codable, Equatable { var cpus: CPUList }
        let value = Wrapper(cpus: try CPUList(parsing: "0-3,6"))
        let data = try JSONEncoder().encode(value)
        #expect(String(decoding: data, as: UTF8.self) == #"{"cpus":"0-3,6"}"#)
        #expect(try JSONDecoder().decode(Wrapper.self, from: data) == value)
        #expect(try JSONDecoder().decode(Wrapper.self, from: Data(#"{"cpus":""}"#.utf8)).cpus.isEmpty)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Wrapper.self, from: Data(#"{"cpus":"3-1"}"#.utf8))
        }
    }
}
