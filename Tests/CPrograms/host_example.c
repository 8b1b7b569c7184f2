/*
 * host_example.c — a complete C host of librealtimeio.
 *
 * Creates an engine from JSON, writes a file through it (one pwrite and one
 * pwritev per block), syncs it, reads it back, and checks every byte; the
 * host sleeps in poll(2) on the completion eventfd and collects completions
 * with rtio_reap. Shuts down with RTIO_SHUTDOWN_DRAIN.
 *
 *   cc -std=c11 -I Sources/RealtimeIOC/include host_example.c \
 *      -L <dir of librealtimeio.so> -lrealtimeio -Wl,-rpath,<that dir> -o host_example
 *   ./host_example /tmp/rtio-example.dat
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <realtimeio.h>

#define BLOCKS 64
#define BLOCK  4096

static const char *config =
    "{\"groups\":[{\"name\":\"io\",\"workers\":2,\"scheduling\":{\"other\":0}}],"
    " \"ringCapacity\":64,\"requestsInFlight\":128,\"memoryLocking\":\"none\","
    " \"privilegePolicy\":\"bestEffort\",\"spinBudgetNanoseconds\":20000}";

/* Waits until `want` completions arrived; stores them in `out`. */
static int wait_for(rtio_engine *e, struct rtio_completion *out, int want) {
    int got = 0;
    struct pollfd p = { .fd = rtio_completion_fd(e), .events = POLLIN };
    while (got < want) {
        int n = rtio_reap(e, out + got, (unsigned)(want - got));
        if (n < 0) return n;
        if (n > 0) { got += n; continue; }
        /* Nothing ready: rtio_reap re-armed the eventfd; sleep until it fires. */
        if (poll(&p, 1, 10000) == 0) { fprintf(stderr, "timed out\n"); return -ETIMEDOUT; }
    }
    return got;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/tmp/rtio-example.dat";
    char err[512];
    rtio_engine *e;
    int rc = rtio_engine_create(config, &e, err, sizeof err);
    if (rc < 0) { fprintf(stderr, "rtio_engine_create: %s (%s)\n", strerror(-rc), err); return 1; }
    if (err[0]) fprintf(stderr, "degraded: %s\n", err);

    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { perror("open"); return 1; }

    static char out[BLOCKS][BLOCK], in[BLOCKS][BLOCK];
    struct iovec iov[BLOCKS][2];
    for (int b = 0; b < BLOCKS; b++) memset(out[b], 'a' + b % 26, BLOCK);

    /* Write: even blocks with rtio_submit_write, odd ones as two halves with writev. */
    for (int b = 0; b < BLOCKS; b++) {
        int64_t off = (int64_t)b * BLOCK;
        if (b % 2 == 0) {
            rc = rtio_submit_write(e, fd, out[b], BLOCK, off, (uint64_t)b);
        } else {
            iov[b][0] = (struct iovec){ out[b], BLOCK / 2 };
            iov[b][1] = (struct iovec){ out[b] + BLOCK / 2, BLOCK / 2 };
            rc = rtio_submit_writev(e, fd, iov[b], 2, off, (uint64_t)b);
        }
        if (rc < 0) { fprintf(stderr, "submit write %d: %s\n", b, strerror(-rc)); return 1; }
    }
    struct rtio_completion c[BLOCKS];
    if (wait_for(e, c, BLOCKS) != BLOCKS) return 1;
    for (int i = 0; i < BLOCKS; i++)
        if (c[i].result != BLOCK) { fprintf(stderr, "write %llu: %lld\n", (unsigned long long)c[i].tag, (long long)c[i].result); return 1; }

    if ((rc = rtio_submit_fdatasync(e, fd, 1000)) < 0) { fprintf(stderr, "fdatasync: %s\n", strerror(-rc)); return 1; }
    if (wait_for(e, c, 1) != 1 || c[0].tag != 1000 || c[0].result != 0) { fprintf(stderr, "fdatasync failed\n"); return 1; }

    /* Read everything back. */
    for (int b = 0; b < BLOCKS; b++)
        if ((rc = rtio_submit_read(e, fd, in[b], BLOCK, (int64_t)b * BLOCK, (uint64_t)b)) < 0) {
            fprintf(stderr, "submit read: %s\n", strerror(-rc)); return 1;
        }
    if (wait_for(e, c, BLOCKS) != BLOCKS) return 1;
    for (int i = 0; i < BLOCKS; i++)
        if (c[i].result != BLOCK) { fprintf(stderr, "read %llu: %lld\n", (unsigned long long)c[i].tag, (long long)c[i].result); return 1; }
    if (memcmp(in, out, sizeof out) != 0) { fprintf(stderr, "data mismatch\n"); return 1; }

    for (int w = 0; w < rtio_worker_count(e); w++) {
        struct rtio_worker_info info;
        if (rtio_worker_info(e, (unsigned)w, &info) == 0)
            printf("worker %u %s tid %d cpu %d policy %d prio %d completed %llu\n", info.index, info.name,
                   info.tid, info.cpu, info.policy, info.priority, (unsigned long long)info.completed);
    }

    rtio_engine_shutdown(e, RTIO_SHUTDOWN_DRAIN);
    rtio_engine_destroy(e);
    close(fd);
    unlink(path);
    printf("OK %d blocks verified\n", BLOCKS);
    return 0;
}
