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

func temporaryCopyOfTrue() throws -> String {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("rtio-system-tests-\(getpid())-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent("true").path
    try copyExecutable("/bin/true", to: path)
    return path
}
