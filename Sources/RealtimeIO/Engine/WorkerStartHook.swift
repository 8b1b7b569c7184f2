
/// A C function run by each worker thread right after it starts, before it
/// takes work (register the thread with a profiler, set thread-locals, …).
public struct WorkerStartHook: @unchecked Sendable {
    public let function: @convention(c) (UnsafeMutableRawPointer?) -> Void
    public let context: UnsafeMutableRawPointer?
    public init(_ function: @convention(c) (UnsafeMutableRawPointer?) -> Void, context: UnsafeMutableRawPointer? = nil) {
        self.function = function
        self.context = context
    }
}
