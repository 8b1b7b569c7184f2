#define _GNU_SOURCE 1
#include "CMallocCounter.h"
#include <stdatomic.h>
#include <stddef.h>
#include <errno.h>
#include <malloc.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static _Atomic uint64_t tracked_allocations;
static __thread bool thread_tracked __attribute__((tls_model("initial-exec")));
static __thread uint64_t thread_allocations __attribute__((tls_model("initial-exec")));

static __thread uint64_t thread_bytes __attribute__((tls_model("initial-exec")));
static __thread uint64_t thread_aligned_bytes __attribute__((tls_model("initial-exec")));

static inline void note_allocation(size_t size) {
    thread_allocations++;
    thread_bytes += size;
    if (thread_tracked) atomic_fetch_add_explicit(&tracked_allocations, 1, memory_order_relaxed);
}

void rtio_malloc_counter_track(bool enabled) { thread_tracked = enabled; }
uint64_t rtio_malloc_counter_allocations(void) {
    return atomic_load_explicit(&tracked_allocations, memory_order_relaxed);
}
uint64_t rtio_malloc_counter_thread_allocations(void) { return thread_allocations; }
void rtio_malloc_counter_track_current_thread(void *context) { (void)context; thread_tracked = true; }
uint64_t rtio_malloc_counter_thread_bytes(void) { return thread_bytes; }
uint64_t rtio_malloc_counter_thread_aligned_bytes(void) { return thread_aligned_bytes; }
uint64_t rtio_malloc_heap_in_use(void) { return (uint64_t)mallinfo2().uordblks; }

// Under ThreadSanitizer the sanitizer owns malloc: counting is off (the
// allocation tests do not run in the TSan job).
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define RTIO_NO_MALLOC_OVERRIDE 1
#endif
#endif

#ifndef RTIO_NO_MALLOC_OVERRIDE
void *malloc(size_t size) { note_allocation(size); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { note_allocation(n * size); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { note_allocation(size); return __libc_realloc(p, size); }
void free(void *p) { __libc_free(p); }
static inline void note_aligned(size_t alignment, size_t size) { if (alignment > 16) thread_aligned_bytes += size; }
void *memalign(size_t alignment, size_t size) { note_allocation(size); note_aligned(alignment, size); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { note_allocation(size); note_aligned(alignment, size); return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    note_allocation(size);
    note_aligned(alignment, size);
    void *p = __libc_memalign(alignment, size);
    if (p == NULL && size != 0) return ENOMEM;
    *out = p;
    return 0;
}
#endif
