import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// SignalMask — the calling thread's blocked-signal set (`pthread_sigmask(3)`).
///
/// A thread inherits its creator's signal mask. Creating helper threads with
/// every signal blocked keeps process-directed signals (the host's `SIGINT`,
/// `SIGEV_SIGNAL` notifications, …) going to the host's own threads, never to
/// an I/O worker. `SIGKILL` and `SIGSTOP` cannot be blocked; synchronous
/// faults (`SIGSEGV`, `SIGBUS`, …) raised by the thread itself are delivered anyway.
package enum SignalMask {
    /// Runs `body` with every signal blocked on the calling thread, then restores
    /// the previous mask (also when `body` throws). Threads created inside start
    /// with every signal blocked.
    package static func withAllBlocked<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        var all = sigset_t()
        var previous = sigset_t()
        sigfillset(&all)
        // pthread_sigmask fails only for an invalid `how`; SIG_SETMASK is valid.
        pthread_sigmask(SIG_SETMASK, &all, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return try body()
    }

    /// Blocks every signal on the calling thread for the rest of its life (a
    /// helper thread's first statement, or a worker start hook).
    package static func blockAll() {
        var all = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_BLOCK, &all, nil)
    }

    /// Whether `signal` is blocked on the calling thread.
    package static func isBlocked(_ signal: Int32) -> Bool {
        var current = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &current)
        return sigismember(&current, signal) == 1
    }
}
