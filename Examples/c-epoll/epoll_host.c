/*
 * epoll_host.c — a C host that waits for librealtimeio completions in its own
 * epoll(7) loop, next to its other descriptors.
 *
 * The loop watches two descriptors: the engine's completion eventfd
 * (rtio_completion_fd) and a timerfd standing for the host's other work. It
 * writes a file in waves of WAVE requests — each wave submitted from the loop
 * once the previous one completed — then reads everything back and checks the
 * bytes and that every tag completed exactly once.
 *
 * The rules of the completion descriptor:
 *   - register it level-triggered (plain EPOLLIN); never read(2) or close(2) it;
 *   - when it is readable, call rtio_reap until it returns 0: the call that
 *     finds nothing re-arms the eventfd and checks once more, so a completion
 *     that lands after it makes the descriptor readable again — none is lost;
 *   - remove it from the epoll set before rtio_engine_destroy.
 *
 *   cc -std=gnu11 -I Sources/RealtimeIOC/include epoll_host.c \
 *      -L <dir of librealtimeio.so> -lrealtimeio -Wl,-rpath,<that dir> -o epoll_host
 *   ./epoll_host /tmp/rtio-epoll.dat
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <realtimeio.h>

#define WAVES 8
#define WAVE  32
#define TOTAL (WAVES * WAVE)
#define BLOCK 4096

static const char *config =
    "{\"groups\":[{\"name\":\"io\",\"workers\":2,\"scheduling\":{\"other\":0}}],"
    " \"ringCapacity\":64,\"requestsInFlight\":128,\"memoryLocking\":\"none\","
    " \"privilegePolicy\":\"bestEffort\",\"spinBudgetNanoseconds\":0}";

static char out[TOTAL][BLOCK], in[TOTAL][BLOCK];
static int seen[2][TOTAL];  /* [0]: writes, [1]: reads — completions per tag */

/* Submits wave `w` of phase 0 (writes) or 1 (reads); tags are phase << 32 | block. */
static int submit_wave(rtio_engine *e, int fd, int phase, int w) {
    for (int i = 0; i < WAVE; i++) {
        int b = w * WAVE + i;
        uint64_t tag = ((uint64_t)phase << 32) | (uint64_t)b;
        int rc = phase == 0 ? rtio_submit_write(e, fd, out[b], BLOCK, (int64_t)b * BLOCK, tag)
                            : rtio_submit_read(e, fd, in[b], BLOCK, (int64_t)b * BLOCK, tag);
        if (rc < 0) { fprintf(stderr, "submit %d/%d: %s\n", phase, b, strerror(-rc)); return rc; }
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/tmp/rtio-epoll.dat";
    char err[512];
    rtio_engine *e;
    int rc = rtio_engine_create(config, &e, err, sizeof err);
    if (rc < 0) { fprintf(stderr, "rtio_engine_create: %s (%s)\n", strerror(-rc), err); return 1; }

    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { perror("open"); return 1; }
    for (int b = 0; b < TOTAL; b++) memset(out[b], 'A' + b % 26, BLOCK);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    int completions = rtio_completion_fd(e);
    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec every_ms = { .it_interval = { 0, 1000000 }, .it_value = { 0, 1000000 } };
    timerfd_settime(timer, 0, &every_ms, NULL);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = completions };  /* level-triggered */
    if (ep < 0 || completions < 0 || timer < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, completions, &ev) != 0) {
        perror("epoll setup"); return 1;
    }
    ev.data.fd = timer;
    epoll_ctl(ep, EPOLL_CTL_ADD, timer, &ev);

    int phase = 0, wave = 0, done_in_wave = 0, total_done = 0;
    unsigned long long ticks = 0;
    if (submit_wave(e, fd, phase, wave) < 0) return 1;
    while (total_done < 2 * TOTAL) {
        struct epoll_event events[4];
        int n = epoll_wait(ep, events, 4, 10000);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { fprintf(stderr, "epoll_wait: %s\n", n == 0 ? "timed out" : strerror(errno)); return 1; }
        for (int i = 0; i < n; i++) {
            if (events[i].data.fd == timer) {
                uint64_t expirations;
                if (read(timer, &expirations, sizeof expirations) == sizeof expirations) ticks += expirations;
                continue;
            }
            /* The completion eventfd: reap until rtio_reap returns 0 (that call re-arms it). */
            struct rtio_completion c[16];
            int got;
            while ((got = rtio_reap(e, c, 16)) > 0) {
                for (int k = 0; k < got; k++) {
                    int p = (int)(c[k].tag >> 32), b = (int)(c[k].tag & 0xffffffffu);
                    if (p > 1 || b >= TOTAL || c[k].result != BLOCK) {
                        fprintf(stderr, "bad completion tag %llx result %lld\n",
                                (unsigned long long)c[k].tag, (long long)c[k].result);
                        return 1;
                    }
                    seen[p][b]++;
                    done_in_wave++;
                    total_done++;
                }
            }
            if (got < 0) { fprintf(stderr, "rtio_reap: %s\n", strerror(-got)); return 1; }
            if (done_in_wave == WAVE && total_done < 2 * TOTAL) {  /* next wave, from the loop */
                done_in_wave = 0;
                if (++wave == WAVES) { wave = 0; phase = 1; }
                if (submit_wave(e, fd, phase, wave) < 0) return 1;
            }
        }
    }

    for (int p = 0; p < 2; p++)
        for (int b = 0; b < TOTAL; b++)
            if (seen[p][b] != 1) { fprintf(stderr, "tag %d/%d completed %d times\n", p, b, seen[p][b]); return 1; }
    if (memcmp(in, out, sizeof out) != 0) { fprintf(stderr, "data mismatch\n"); return 1; }

    epoll_ctl(ep, EPOLL_CTL_DEL, completions, NULL);  /* before destroy closes it */
    rtio_engine_shutdown(e, RTIO_SHUTDOWN_DRAIN);
    rtio_engine_destroy(e);
    close(timer);
    close(ep);
    close(fd);
    unlink(path);
    printf("OK %d completions, each exactly once, from an epoll loop (%llu timer ticks alongside)\n", 2 * TOTAL, ticks);
    return 0;
}
