// Measurement-only pthread_create interposer (tests and rtio-bench, never the library).
//
// Linked into an executable, this pthread_create takes precedence over libc's
// (the executable comes first in symbol lookup, for the executable's own calls
// and for shared libraries' calls alike) and forwards to the next definition:
// ThreadSanitizer's interceptor when the runtime is present (it defines
// pthread_create weakly and exports __interceptor_pthread_create), otherwise
// libc's, found with dlsym(RTLD_NEXT).
//
// Counting is per creating thread, with no bookkeeping in the code under
// measurement: every successful creation adds one to the calling thread's
// thread-local counter. Threads that opted in with
// rtio_thread_creation_counter_track(true) also add to a process-wide total,
// and the threads they create are opted in from their first instruction, so
// the total covers a whole family (a host, the spawner it starts, the workers
// those create...) and nothing a parallel, untracked test creates.
#define _GNU_SOURCE 1
#include "CMallocCounter.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <errno.h>

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

// Defined (weakly) by the ThreadSanitizer runtime; null otherwise.
extern int __interceptor_pthread_create(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *)
    __attribute__((weak));

static _Atomic(create_fn) next_create;
static _Atomic uint64_t tracked_creations;
static __thread bool thread_tracked __attribute__((tls_model("initial-exec")));
static __thread uint64_t thread_creations __attribute__((tls_model("initial-exec")));

static create_fn resolve_next(void) {
    create_fn next = atomic_load_explicit(&next_create, memory_order_acquire);
    if (next != NULL) return next;
    next = __interceptor_pthread_create != NULL ? __interceptor_pthread_create
                                                : (create_fn)dlsym(RTLD_NEXT, "pthread_create");
    if (next == NULL) abort();  // no libc pthread_create: nothing sensible to do
    atomic_store_explicit(&next_create, next, memory_order_release);
    return next;
}

// A tracked creator's child starts here: opted in, then the real start routine.
struct tracked_start { void *(*start)(void *); void *arg; };

static void *start_tracked(void *raw) {
    struct tracked_start s = *(struct tracked_start *)raw;
    free(raw);
    thread_tracked = true;
    return s.start(s.arg);
}

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg) {
    create_fn next = resolve_next();
    // Counted before the thread exists (and uncounted if creation fails): a
    // running thread's creation is always already counted.
    thread_creations++;
    if (!thread_tracked) {
        int rc = next(thread, attr, start, arg);
        if (rc != 0) thread_creations--;
        return rc;
    }
    atomic_fetch_add_explicit(&tracked_creations, 1, memory_order_relaxed);
    struct tracked_start *s = malloc(sizeof *s);
    int rc = EAGAIN;
    if (s != NULL) {
        s->start = start;
        s->arg = arg;
        rc = next(thread, attr, start_tracked, s);
        if (rc != 0) free(s);
    }
    if (rc != 0) {
        thread_creations--;
        atomic_fetch_sub_explicit(&tracked_creations, 1, memory_order_relaxed);
    }
    return rc;
}

void rtio_thread_creation_counter_track(bool enabled) { thread_tracked = enabled; }
uint64_t rtio_thread_creations_by_current_thread(void) { return thread_creations; }
uint64_t rtio_thread_creations_tracked(void) {
    return atomic_load_explicit(&tracked_creations, memory_order_relaxed);
}
