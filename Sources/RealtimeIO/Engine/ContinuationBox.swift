import SystemPackage

/// The heap box that carries an async caller's continuation through a
/// request record (the async API's one allocation per request).
///
/// Ownership: ``IOEngine`` retains it once when it stores the pointer in a
/// record; the worker takes that retain back in ``resume(_:result:)``.
final class ContinuationBox {
    let continuation: UnsafeContinuation<Int, any Error>
    init(_ continuation: UnsafeContinuation<Int, any Error>) { self.continuation = continuation }

    static func resume(_ raw: UnsafeMutableRawPointer, result: Int) {
        let box = Unmanaged<ContinuationBox>.fromOpaque(raw).takeRetainedValue()
        if result < 0 {
            box.continuation.resume(throwing: Errno(rawValue: Int32(-result)))
        } else {
            box.continuation.resume(returning: result)
        }
    }
}
