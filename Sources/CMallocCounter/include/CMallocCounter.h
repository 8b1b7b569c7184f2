// Measurement-only counters (tests and rtio-bench, never the library).
//
// Heap allocations (counter.c):
//
// This target defines malloc, calloc, realloc, free and the aligned variants;
// linked into the test executable they take precedence over libc's (the
// executable comes first in symbol lookup) and forward to glibc's __libc_*
// entry points. Only threads that opted in with rtio_malloc_counter_track()
// are counted, so tests running in parallel on other threads do not disturb
// a measurement.
#ifndef CMALLOC_COUNTER_H
#define CMALLOC_COUNTER_H
#include <stdint.h>
#include <stdbool.h>

/// Opt the calling thread in (true) or out (false) of counting.
void rtio_malloc_counter_track(bool enabled);
/// Allocation calls (malloc, calloc, realloc, memalign family) made by tracked threads since start.
uint64_t rtio_malloc_counter_allocations(void);
/// Allocation calls made by the calling thread since it started (tracked or not).
uint64_t rtio_malloc_counter_thread_allocations(void);
/// A C function suitable as a worker start hook: opts the calling thread in.
void rtio_malloc_counter_track_current_thread(void *context);
/// Bytes the calling thread has asked malloc and friends for since it started
/// (requested sizes, not usable sizes; realloc counts the new size).
uint64_t rtio_malloc_counter_thread_bytes(void);
/// The part of those bytes asked for with an alignment above 16 (memalign,
/// aligned_alloc, posix_memalign): Swift's allocate(byteCount:alignment:) with a
/// cache-line alignment, i.e. RealtimeIO's CacheAlignedStorage.
uint64_t rtio_malloc_counter_thread_aligned_bytes(void);
/// Heap bytes in use in every arena (glibc mallinfo2's uordblks): process-wide,
/// for a child process that measures itself.
uint64_t rtio_malloc_heap_in_use(void);

// Thread creations (thread_creation_counter.c): this target also defines
// pthread_create, forwarding to the next definition (libc's through
// dlsym(RTLD_NEXT), or ThreadSanitizer's interceptor), and counts every
// successful call per calling thread. A creation is counted before the new
// thread runs and uncounted if pthread_create fails.

/// Threads the calling thread has created since it started (tracked or not).
uint64_t rtio_thread_creations_by_current_thread(void);
/// Opt the calling thread in (true) or out (false) of the process-wide total.
/// Threads created by an opted-in thread are opted in from their first instruction,
/// so the total covers a whole family (a host, the threads it starts, the threads
/// those start...) and nothing an unrelated, untracked thread creates.
void rtio_thread_creation_counter_track(bool enabled);
/// Threads created by opted-in threads since start (process-wide).
uint64_t rtio_thread_creations_tracked(void);
#endif
