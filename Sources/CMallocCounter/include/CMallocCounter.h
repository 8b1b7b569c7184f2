// Test-only heap allocation counter.
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
#endif
