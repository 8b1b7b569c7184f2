
/// A C function run by each worker thread right after it starts, before it
/// takes work (register the thread with a profiler, set thread-locals, …).
public struct WorkerStartHook: @unchecked Sendable {
    /// The function, called once on each worker thread with `context`.
    public let function: @convention(c) (UnsafeMutableRawPointer?) -> Void
    /// Passed to `function`; must stay valid while the engine starts.
    public let context: UnsafeMutableRawPointer?
    /// A hook calling `function(context)`.
    public init(_ function: @convention(c) (UnsafeMutableRawPointer?) -> Void, context: UnsafeMutableRawPointer? = nil) {
        self.function = function
        self.context = context
    }
}
