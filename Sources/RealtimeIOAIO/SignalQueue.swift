// Queued signals with si_code SI_ASYNCIO, for SIGEV_SIGNAL and SIGEV_THREAD_ID.
#if canImport(Glibc)
import Glibc
#endif

/// `rt_sigqueueinfo` / `rt_tgsigqueueinfo` through libc's `syscall(2)`,
/// looked up once.
///
/// Swift cannot call the variadic `syscall()`; its x86-64 and arm64 assembly
/// entry takes the fixed-argument call below unchanged. Without the symbol,
/// `sigqueue(3)` is used (si_code SI_QUEUE instead of SI_ASYNCIO).
///
/// Called on worker threads (completions) and on lio_listio's submitter (a
/// batch whose last member failed to submit); it allocates nothing.
enum SignalQueue {
    typealias Syscall4 = @convention(c) (Int, Int, Int, Int, Int) -> Int
    #if arch(x86_64)
    static let rtSigqueueinfo = 129, rtTgsigqueueinfo = 297
    #elseif arch(arm64)
    static let rtSigqueueinfo = 138, rtTgsigqueueinfo = 240
    #else
    // Other architectures: the syscall numbers are not wired here; sigqueue(3) below.
    static let rtSigqueueinfo = -1, rtTgsigqueueinfo = -1
    #endif
    static let call: Syscall4? = {
        guard rtSigqueueinfo >= 0, let p = dlsym(nil /* RTLD_DEFAULT */, "syscall") else { return nil }
        return unsafeBitCast(p, to: Syscall4.self)
    }()

    /// Sends `signo` with `value` and si_code SI_ASYNCIO (as glibc's AIO does)
    /// to the process (`tid` 0) or one of its threads.
    static func send(signo: Int32, value: sigval, pid: pid_t, tid: pid_t) {
        // siginfo_t: si_signo @0, si_errno @4, si_code @8, _rt: si_pid @16, si_uid @20, si_value @24; 128 bytes.
        var info = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                    UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &info) { raw in
            raw.storeBytes(of: signo, toByteOffset: 0, as: Int32.self)
            raw.storeBytes(of: -4 /* SI_ASYNCIO */, toByteOffset: 8, as: Int32.self)
            raw.storeBytes(of: pid, toByteOffset: 16, as: Int32.self)
            raw.storeBytes(of: getuid(), toByteOffset: 20, as: UInt32.self)
            raw.storeBytes(of: value, toByteOffset: 24, as: sigval.self)
        }
        withUnsafeBytes(of: &info) { raw in
            if let call {
                let info = Int(bitPattern: raw.baseAddress!)
                if tid > 0 {
                    _ = call(rtTgsigqueueinfo, Int(pid), Int(tid), Int(signo), info)
                } else {
                    _ = call(rtSigqueueinfo, Int(pid), Int(signo), info, 0)
                }
            } else {
                _ = sigqueue(pid, signo, value)
            }
        }
    }
}
