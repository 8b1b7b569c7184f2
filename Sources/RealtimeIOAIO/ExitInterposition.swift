// _exit and _Exit: the status file is removed on these exits too.
#if canImport(Glibc)
import Glibc
#endif

/// The preloaded library's `_exit` and `_Exit`: unlink this process's drop-in
/// status file (``ProcessContext/removeStatusFile()``), then call the next
/// definition (libc's). Programs that end processes with `_exit` — fio's job
/// processes, forked children — skip `atexit` handlers and would leave the
/// file behind. A `vfork`/`posix_spawn` child has another pid: it unlinks
/// nothing. (libc's own internal exits, e.g. posix_spawn's, do not come
/// through here; nor does a raw `exit_group` syscall.)
enum ExitInterposition {
    typealias ExitFunction = @convention(c) (Int32) -> Void

    /// libc's definition of `name`, looked up past this library (RTLD_NEXT).
    static func next(_ name: String) -> ExitFunction? {
        guard let p = dlsym(UnsafeMutableRawPointer(bitPattern: -1) /* RTLD_NEXT */, name) else { return nil }
        return unsafeBitCast(p, to: ExitFunction.self)
    }

    static let nextExit = next("_exit")
    static let nextUnderscoreExit = next("_Exit")

    static func exit(_ status: Int32, through function: ExitFunction?) -> Never {
        ProcessContext.removeStatusFile()
        function?(status)
        abort()  // no next definition: cannot happen with glibc
    }
}

@_cdecl("_exit")
public func rtio_underscore_exit(_ status: Int32) -> Never { ExitInterposition.exit(status, through: ExitInterposition.nextExit) }

@_cdecl("_Exit")
public func rtio_underscore_Exit(_ status: Int32) -> Never { ExitInterposition.exit(status, through: ExitInterposition.nextUnderscoreExit) }
