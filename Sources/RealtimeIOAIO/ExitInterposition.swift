// _exit and _Exit: the status file is removed on these exits too.
import CRealtimeIOShims
#if canImport(Glibc)
import Glibc
#endif

/// The preloaded library's `_exit` and `_Exit`: unlink this process's drop-in
/// status file (``ProcessContext/removeStatusFile()``), then end the process
/// with the `exit_group` syscall, which is all glibc's `_exit` does.
/// Programs that end processes with `_exit` — fio's job processes, forked
/// children — skip `atexit` handlers and would leave the file behind. A
/// `vfork`/`posix_spawn` child has another pid: it unlinks nothing.
///
/// Async-signal-safe, as `_exit` must be (signal handlers and `vfork` children
/// call it): an atomic load, `getpid`, `unlink` of a preallocated C string and
/// the syscall — no symbol lookup, no lazy initialisation. (libc's own internal
/// exits, e.g. posix_spawn's, do not come through here.)
enum ExitInterposition {
    static func exit(_ status: Int32) -> Never {
        ProcessContext.removeStatusFile()
        rtio_exit_group(status)
    }
}

@_cdecl("_exit")
public func rtio_underscore_exit(_ status: Int32) -> Never { ExitInterposition.exit(status) }

@_cdecl("_Exit")
public func rtio_underscore_Exit(_ status: Int32) -> Never { ExitInterposition.exit(status) }
