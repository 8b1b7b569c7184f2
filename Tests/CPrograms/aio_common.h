/*
 * aio_common.h — shared by the aio_*.c test programs. Each program prints
 * "RESULT <name> <value>" lines that AIO*Tests compare between glibc (no
 * LD_PRELOAD) and librtio-aio.so, and "OK" at the end. Waits are bounded by
 * counts and generous timeouts; nothing is timed.
 */
#define _GNU_SOURCE
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RESULT(name, fmt, ...) do { printf("RESULT %s " fmt "\n", name, __VA_ARGS__); fflush(stdout); } while (0)
#define DIE(...) do { fprintf(stderr, "FAIL "); fprintf(stderr, __VA_ARGS__); fprintf(stderr, " (line %d, errno %d %s)\n", __LINE__, errno, strerror(errno)); exit(1); } while (0)

/* Waits for one request (aio_suspend, EINTR retried); returns aio_return's value. */
static inline ssize_t aio_finish(struct aiocb *cb) {
    const struct aiocb *list[1] = { cb };
    while (aio_error(cb) == EINPROGRESS) {
        if (aio_suspend(list, 1, NULL) != 0 && errno != EINTR) DIE("aio_suspend");
    }
    return aio_return(cb);
}

/* Polls `counter` until it reaches `want` or `seconds` pass (a bound, not a timing). */
static inline int wait_count(atomic_int *counter, int want, int seconds) {
    for (long i = 0; i < seconds * 1000L && atomic_load(counter) < want; i++) usleep(1000);
    return atomic_load(counter);
}

/* Submits with aio_read/aio_write, retrying EAGAIN (resource exhaustion, which POSIX allows) after a pause. */
static inline int submit_retrying(int (*fn)(struct aiocb *), struct aiocb *cb, atomic_int *eagain) {
    for (;;) {
        if (fn(cb) == 0) return 0;
        if (errno != EAGAIN) return -1;
        if (eagain) atomic_fetch_add(eagain, 1);
        usleep(200);
    }
}
