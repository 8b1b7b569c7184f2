// C ABI of RealtimeIO (see include/realtimeio.h). Filled in by the C ABI work.
import RealtimeIO
