/*
 * aio_order.c — one descriptor's requests run in submission order: an
 * aio_read issued right after an aio_write of the same block sees the new data.
 *   ./aio_order DIR [PAIRS]
 * Prints the number of stale reads (0 with glibc and the drop-in's default
 * per-descriptor ordering), then reads 64 blocks at once (spread mode spreads
 * them; hybrid configurations overflow them) and verifies them.
 */
#include "aio_common.h"

enum { BS = 4096, BLOCKS = 64 };

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/order", argc > 1 ? argv[1] : "/tmp");
    int pairs = argc > 2 ? atoi(argv[2]) : 2000;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) DIE("open");
    static char zero[BS * BLOCKS];
    if (pwrite(fd, zero, sizeof zero, 0) != (ssize_t)sizeof zero) DIE("pwrite");
    static char out[BS], in[BS];
    int stale = 0, failed = 0;
    for (int i = 0; i < pairs; i++) {
        int block = i % BLOCKS;
        memset(out, (char)(i % 250 + 1), BS);
        struct aiocb w = { .aio_fildes = fd, .aio_buf = out, .aio_nbytes = BS, .aio_offset = (off_t)block * BS };
        struct aiocb r = { .aio_fildes = fd, .aio_buf = in, .aio_nbytes = BS, .aio_offset = (off_t)block * BS };
        if (submit_retrying(aio_write, &w, NULL) != 0 || submit_retrying(aio_read, &r, NULL) != 0) DIE("submit");
        if (aio_finish(&w) != BS || aio_finish(&r) != BS) failed++;
        else if (memcmp(in, out, BS) != 0) stale++;
    }
    RESULT("pairs", "%d", pairs);
    RESULT("stale_reads", "%d", stale);
    RESULT("failed_pairs", "%d", failed);

    /* 64 reads in flight at once, then verify. */
    static char blocks[BLOCKS][BS], expect[BS * BLOCKS];
    if (pread(fd, expect, sizeof expect, 0) != (ssize_t)sizeof expect) DIE("pread");
    static struct aiocb cb[BLOCKS];
    for (int round = 0; round < 20; round++) {
        for (int b = 0; b < BLOCKS; b++) {
            cb[b] = (struct aiocb){ .aio_fildes = fd, .aio_buf = blocks[b], .aio_nbytes = BS, .aio_offset = (off_t)b * BS };
            if (submit_retrying(aio_read, &cb[b], NULL) != 0) DIE("aio_read");
        }
        for (int b = 0; b < BLOCKS; b++) if (aio_finish(&cb[b]) != BS || memcmp(blocks[b], expect + b * BS, BS) != 0) failed++;
    }
    RESULT("parallel_reads_failed", "%d", failed);
    unlink(path);
    printf("OK\n");
    return 0;
}
