import CRealtimeIOShims
import Foundation
@testable import RealtimeIO
@testable import RealtimeIOLinux
import SystemPackage

/// A temporary file, removed on deinit.
final class TemporaryFile: @unchecked Sendable {
    let path: String
    let fd: FileDescriptor
    init(size: Int = 0, readOnly: Bool = false) throws {
        path = NSTemporaryDirectory() + "rtio-test-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let w = try FileDescriptor.open(path, .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
        if size > 0 {
            // Each 8-byte word holds its own offset: any read can be verified.
            var words = [UInt64](repeating: 0, count: size / 8)
            for i in words.indices { words[i] = UInt64(i * 8) }
            _ = try words.withUnsafeBytes { try w.writeAll(toAbsoluteOffset: 0, $0) }
        }
        if readOnly {
            try w.close()
            fd = try FileDescriptor.open(path, .readOnly)
        } else {
            fd = w
        }
    }
    deinit {
        try? fd.close()
        unlink(path)
    }
}
