/*
 * aio_notify_flood.c — SIGEV_THREAD notifications are never lost.
 *   ./aio_notify_flood DIR
 * 10 000 reads, 256 in flight, each notifying a 200 µs function: exactly
 * 10 000 calls, each request once. Then the first function of a second round
 * blocks until every later one of that round ran: a blocking function must
 * not hold back (or lose) the others.
 */
#include "aio_common.h"

enum { TOTAL = 10000, DEPTH = 256, BS = 512 };
static atomic_int calls, per_request[TOTAL], blocker_done, round2;
static atomic_int eagain;

static void slow(union sigval v) {
    struct timespec d = { 0, 200 * 1000 };
    nanosleep(&d, NULL);
    if (v.sival_int >= 0 && v.sival_int < TOTAL) atomic_fetch_add(&per_request[v.sival_int], 1);
    atomic_fetch_add(&calls, 1);
}

enum { ROUND2 = 64 };
static int block_ms = 60000;  /* AIO_FLOOD_BLOCK_MS */
static void blocking(union sigval v) {
    if (v.sival_int == 0) {
        /* Waits (bounded: 60 s by default) for the other ROUND2-1 functions. */
        for (int i = 0; i < block_ms && atomic_load(&round2) < ROUND2 - 1; i++) usleep(1000);
        atomic_store(&blocker_done, atomic_load(&round2) == ROUND2 - 1 ? 1 : -1);
    } else {
        atomic_fetch_add(&round2, 1);
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("AIO_FLOOD_BLOCK_MS")) block_ms = atoi(getenv("AIO_FLOOD_BLOCK_MS"));
    char path[4200];
    snprintf(path, sizeof path, "%s/flood", argc > 1 ? argv[1] : "/tmp");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) DIE("open");
    static char block[BS * DEPTH];
    memset(block, 'x', sizeof block);
    if (pwrite(fd, block, sizeof block, 0) != (ssize_t)sizeof block) DIE("pwrite");
    static struct aiocb cb[DEPTH];
    static char buf[DEPTH][BS];
    int owner[DEPTH];
    for (int i = 0; i < DEPTH; i++) owner[i] = -1;
    int next = 0, done = 0;
    while (done < TOTAL) {
        for (int s = 0; s < DEPTH && next < TOTAL; s++) {
            if (owner[s] >= 0) continue;
            cb[s] = (struct aiocb){ .aio_fildes = fd, .aio_buf = buf[s], .aio_nbytes = BS, .aio_offset = (off_t)s * BS };
            cb[s].aio_sigevent.sigev_notify = SIGEV_THREAD;
            cb[s].aio_sigevent.sigev_notify_function = slow;
            cb[s].aio_sigevent.sigev_value.sival_int = next;
            if (submit_retrying(aio_read, &cb[s], &eagain) != 0) DIE("aio_read");
            owner[s] = next++;
        }
        for (int s = 0; s < DEPTH; s++) {
            if (owner[s] >= 0 && aio_error(&cb[s]) != EINPROGRESS) {
                if (aio_return(&cb[s]) != BS) DIE("short read");
                owner[s] = -1;
                done++;
            }
        }
        const struct aiocb *list[DEPTH];
        int n = 0;
        for (int s = 0; s < DEPTH; s++) if (owner[s] >= 0) list[n++] = &cb[s];
        if (n > 0 && aio_suspend(list, n, NULL) != 0 && errno != EINTR) DIE("aio_suspend");
    }
    int got = wait_count(&calls, TOTAL, 120);
    usleep(100 * 1000);  /* a duplicate would arrive now */
    int exactly_once = 1;
    for (int i = 0; i < TOTAL; i++) if (atomic_load(&per_request[i]) != 1) exactly_once = 0;
    RESULT("flood_notifications", "%d", atomic_load(&calls));
    RESULT("flood_each_exactly_once", "%d", exactly_once);
    (void)got;
    fprintf(stderr, "EAGAIN retries while functions lagged: %d\n", atomic_load(&eagain));

    /* Round 2: function 0 blocks until the 63 others ran. */
    static struct aiocb r2[ROUND2];
    for (int i = 0; i < ROUND2; i++) {
        r2[i] = (struct aiocb){ .aio_fildes = fd, .aio_buf = buf[i], .aio_nbytes = BS, .aio_offset = (off_t)i * BS };
        r2[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
        r2[i].aio_sigevent.sigev_notify_function = blocking;
        r2[i].aio_sigevent.sigev_value.sival_int = i;
        if (submit_retrying(aio_read, &r2[i], NULL) != 0) DIE("aio_read round 2");
        if (i == 0) aio_finish(&r2[0]);  /* the blocker is queued first */
    }
    for (int i = 1; i < ROUND2; i++) aio_finish(&r2[i]);
    for (int i = 0; i < block_ms + 10000 && atomic_load(&blocker_done) == 0; i++) usleep(1000);
    RESULT("blocking_function_did_not_hold_back_others", "%d", atomic_load(&blocker_done));
    RESULT("round2_functions", "%d", wait_count(&round2, ROUND2 - 1, 60));
    unlink(path);
    printf("OK\n");
    return 0;
}
