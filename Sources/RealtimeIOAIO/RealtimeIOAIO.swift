// POSIX AIO drop-in (LD_PRELOAD). Filled in by the drop-in work.
import RealtimeIO
