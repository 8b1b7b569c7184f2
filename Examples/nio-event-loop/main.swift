// rtio-example-nio — RealtimeIO completions on a SwiftNIO event loop.
//
// Writes 32 blocks of a file through an IOEngine, each write's future fulfilled
// on one EventLoop of a MultiThreadedEventLoopGroup, then reads them back the
// same way and checks the bytes. Prints one line per phase and "OK" at the end.
//
//   swift run rtio-example-nio [path]
import NIOCore
import NIOPosix
import RealtimeIO
import RealtimeIONIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

let blocks = 32
let blockSize = 4096
let path = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "/tmp/rtio-example-nio-\(getpid()).dat"

let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
let loop = group.next()
let configuration = EngineConfiguration(
    groups: [.init(name: "io", workers: 2, scheduling: .other(nice: 0))],
    ringCapacity: 64, requestsInFlight: 128, memoryLocking: .none, privilegePolicy: .bestEffort)

do {
    let engine = try IOEngine(configuration: configuration)
    let loopEngine = try await EventLoopEngine.register(engine, on: loop).get()
    let fd = try FileDescriptor.open(path, .readWrite, options: [.create, .truncate], permissions: .ownerReadWrite)
    defer { try? fd.close(); unlink(path) }

    let output = UnsafeMutableRawBufferPointer.allocate(byteCount: blocks * blockSize, alignment: 4096)
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: blocks * blockSize, alignment: 4096)
    defer { output.deallocate(); input.deallocate() }
    for b in 0..<blocks { output[(b * blockSize)..<((b + 1) * blockSize)].initializeMemory(as: UInt8.self, repeating: UInt8(b)) }

    // Each future is fulfilled on `loop`: the callbacks below run there.
    func run(_ request: (Int) -> IORequest) throws -> EventLoopFuture<[IOCompletion]> {
        let futures = try (0..<blocks).map { b -> EventLoopFuture<IOCompletion> in
            try loopEngine.submit(request(b), tag: UInt64(b)).map { completion in
                precondition(loop.inEventLoop, "completion delivered off the loop")
                return completion
            }
        }
        return EventLoopFuture.whenAllSucceed(futures, on: loop)
    }

    let written = try await run { b in
        .write(fd, from: UnsafeRawBufferPointer(rebasing: output[(b * blockSize)..<((b + 1) * blockSize)]), at: Int64(b * blockSize))
    }.get()
    print("wrote \(written.filter { $0.result == blockSize }.count) blocks, every completion on the loop")

    let read = try await run { b in
        .read(fd, into: UnsafeMutableRawBufferPointer(rebasing: input[(b * blockSize)..<((b + 1) * blockSize)]), at: Int64(b * blockSize))
    }.get()
    print("read \(read.filter { $0.result == blockSize }.count) blocks, every completion on the loop")
    guard memcmp(output.baseAddress!, input.baseAddress!, blocks * blockSize) == 0 else {
        print("data mismatch")
        exit(1)
    }

    engine.shutdown(.drain)
    try await loopEngine.close().get()
    try await group.shutdownGracefully()
    print("OK \(blocks) blocks verified")
} catch {
    print("error: \(error)")
    exit(1)
}
