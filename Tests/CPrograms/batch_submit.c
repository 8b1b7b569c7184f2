/*
 * batch_submit.c — rtio_submit_batch(3): all or nothing, exactly once, and its errors.
 * Prints "PASS <name>" per check and "OK" at the end; exits 1 at the first failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <realtimeio.h>

#define CHECK(name, cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s (line %d)\n", name, __LINE__); exit(1); } \
                               printf("PASS %s\n", name); } while (0)

/* Reaps until `want` completions arrived (bounded by polls of 1 s), counting each tag in seen[]. */
static int reap_n(rtio_engine *e, int want, unsigned char *seen, unsigned seen_len, long long *results) {
    struct rtio_completion c[64];
    int got = 0;
    for (int polls = 0; got < want && polls < 30; ) {
        int n = rtio_reap(e, c, 64);
        if (n < 0) return n;
        for (int i = 0; i < n; i++) {
            if (c[i].tag < seen_len) { seen[c[i].tag]++; if (results) results[c[i].tag] = c[i].result; }
        }
        got += n;
        if (n == 0) { struct pollfd p = { rtio_completion_fd(e), POLLIN, 0 }; if (poll(&p, 1, 1000) == 0) polls++; }
    }
    return got;
}

int main(void) {
    char err[512];
    rtio_engine *e = NULL;
    int rc = rtio_engine_create(
        "{\"groups\":[{\"name\":\"b\",\"workers\":2}],\"ringCapacity\":16,\"requestsInFlight\":32,\"spinBudgetNanoseconds\":0}",
        &e, err, sizeof err);
    CHECK("engine created", rc == 0 && e != NULL);

    char path[] = "/tmp/rtio-batch-XXXXXX";
    int fd = mkstemp(path);
    CHECK("temporary file", fd >= 0);
    unlink(path);

    /* 8 writes of 512 bytes (each block filled with its index), then 8 readv's, as two batches. */
    static char out[8][512], in[8][512];
    struct rtio_request reqs[16];
    memset(reqs, 0, sizeof reqs);
    for (int i = 0; i < 8; i++) {
        memset(out[i], 'a' + i, sizeof out[i]);
        reqs[i].opcode = RTIO_OP_WRITE;
        reqs[i].fd = fd;
        reqs[i].buf = out[i];
        reqs[i].len = sizeof out[i];
        reqs[i].offset = i * 512;
        reqs[i].tag = (uint64_t)i;
    }
    unsigned failed = 12345;
    rc = rtio_submit_batch(e, reqs, 8, &failed);
    CHECK("batch of 8 writes queued", rc == 0 && failed == 8);
    unsigned char seen[64] = {0};
    long long results[64] = {0};
    CHECK("8 write completions", reap_n(e, 8, seen, 64, results) == 8);
    int ok = 1;
    for (int i = 0; i < 8; i++) ok &= seen[i] == 1 && results[i] == 512;
    CHECK("each write completed once with 512", ok);

    struct iovec iov[8];
    memset(reqs, 0, sizeof reqs);
    for (int i = 0; i < 8; i++) {
        iov[i].iov_base = in[i];
        iov[i].iov_len = sizeof in[i];
        reqs[i].opcode = RTIO_OP_READV;
        reqs[i].fd = fd;
        reqs[i].buf = &iov[i];
        reqs[i].len = 1;
        reqs[i].offset = i * 512;
        reqs[i].tag = 10 + (uint64_t)i;
    }
    reqs[8].opcode = RTIO_OP_FSYNC;
    reqs[8].fd = fd;
    reqs[8].tag = 18;
    rc = rtio_submit_batch(e, reqs, 9, &failed);
    CHECK("batch of 8 readv + fsync queued", rc == 0);
    CHECK("9 completions", reap_n(e, 9, seen, 64, results) == 9);
    ok = 1;
    for (int i = 0; i < 8; i++) ok &= seen[10 + i] == 1 && results[10 + i] == 512 && memcmp(in[i], out[i], 512) == 0;
    CHECK("each readv read back its block", ok && seen[18] == 1 && results[18] == 0);

    /* Refused requests: nothing of the batch is queued, the index is named. */
    memset(reqs, 0, sizeof reqs);
    for (int i = 0; i < 4; i++) { reqs[i].opcode = RTIO_OP_FSYNC; reqs[i].fd = fd; reqs[i].tag = 20 + (uint64_t)i; }
    reqs[2].opcode = 99;
    rc = rtio_submit_batch(e, reqs, 4, &failed);
    CHECK("unknown opcode -> -EINVAL naming it", rc == -EINVAL && failed == 2);
    reqs[2].opcode = RTIO_OP_READ; reqs[2].buf = NULL; reqs[2].len = 10;
    rc = rtio_submit_batch(e, reqs, 4, &failed);
    CHECK("buf NULL with len > 0 -> -EINVAL naming it", rc == -EINVAL && failed == 2);
    reqs[2].opcode = RTIO_OP_WRITE; reqs[2].buf = out[0]; reqs[2].len = 10; reqs[2].offset = -5;
    rc = rtio_submit_batch(e, reqs, 4, &failed);
    CHECK("negative offset -> -EINVAL naming it", rc == -EINVAL && failed == 2);
    struct iovec bad = { NULL, 10 };
    reqs[3].opcode = RTIO_OP_READV; reqs[3].buf = &bad; reqs[3].len = 1; reqs[2].offset = 0;
    rc = rtio_submit_batch(e, reqs, 4, &failed);
    CHECK("NULL iov_base -> -EFAULT naming it", rc == -EFAULT && failed == 3);
    reqs[3].opcode = RTIO_OP_FSYNC; reqs[3].reserved = 1;
    rc = rtio_submit_batch(e, reqs, 4, &failed);
    CHECK("reserved not 0 -> -EINVAL", rc == -EINVAL && failed == 3);
    reqs[3].reserved = 0;
    usleep(50000);
    struct rtio_completion none[4];
    CHECK("refused batches queued nothing", rtio_reap(e, none, 4) == 0);
    static struct rtio_request many[17];
    memset(many, 0, sizeof many);
    for (int i = 0; i < 17; i++) { many[i].opcode = RTIO_OP_FSYNC; many[i].fd = fd; many[i].tag = 40; }
    rc = rtio_submit_batch(e, many, 17, &failed);
    CHECK("larger than the ring -> -EINVAL", rc == -EINVAL && failed == 17);
    CHECK("n = 0 -> 0", rtio_submit_batch(e, NULL, 0, NULL) == 0);
    CHECK("NULL reqs with n > 0 -> -EINVAL", rtio_submit_batch(e, NULL, 1, NULL) == -EINVAL);
    CHECK("NULL engine -> -EINVAL", rtio_submit_batch(NULL, reqs, 4, NULL) == -EINVAL);

    /* Full: 32 slots held by unreaped completions, then one more batch -> -EAGAIN. */
    for (int i = 0; i < 16; i++) { many[i].tag = 30; }
    CHECK("16 queued", rtio_submit_batch(e, many, 16, NULL) == 0);
    CHECK("16 more queued", rtio_submit_batch(e, many, 16, NULL) == 0);
    rc = rtio_submit_batch(e, reqs, 4, &failed);
    CHECK("no free slot -> -EAGAIN, no index", rc == -EAGAIN && failed == 4);
    CHECK("32 completions", reap_n(e, 32, seen, 64, NULL) == 32 && seen[30] == 32 && seen[20] == 0);

    /* rtio_submit_batch_h: one distinct, non-zero handle per request; each is
     * RTIO_ALLDONE once its request completed; a refused batch leaves zeros. */
    rtio_handle_t handles[16];
    memset(many, 0, sizeof many);
    for (int i = 0; i < 16; i++) { many[i].opcode = RTIO_OP_FSYNC; many[i].fd = fd; many[i].tag = 50; }
    CHECK("batch_h queued", rtio_submit_batch_h(e, many, 16, handles, &failed) == 0 && failed == 16);
    int distinct = 1;
    for (int i = 0; i < 16; i++) for (int j = 0; j < i; j++) distinct &= handles[i] != handles[j];
    for (int i = 0; i < 16; i++) distinct &= handles[i] != 0;
    CHECK("16 distinct non-zero handles", distinct);
    CHECK("16 batch_h completions", reap_n(e, 16, seen, 64, NULL) == 16 && seen[50] == 16);
    int alldone = 1;
    for (int i = 0; i < 16; i++) alldone &= rtio_cancel(e, handles[i]) == RTIO_ALLDONE;
    CHECK("each handle is RTIO_ALLDONE after its completion", alldone);
    many[5].reserved = 1;
    for (int i = 0; i < 16; i++) handles[i] = 77;
    rc = rtio_submit_batch_h(e, many, 16, handles, &failed);
    int zeros = 1;
    for (int i = 0; i < 16; i++) zeros &= handles[i] == 0;
    CHECK("refused batch_h: -EINVAL naming the entry, handles all 0", rc == -EINVAL && failed == 5 && zeros);
    CHECK("batch_h with NULL handles -> -EINVAL", rtio_submit_batch_h(e, many, 4, NULL, NULL) == -EINVAL);

    CHECK("shutdown", rtio_engine_shutdown(e, RTIO_SHUTDOWN_DRAIN) == 0);
    CHECK("after shutdown -> -ESHUTDOWN", rtio_submit_batch(e, reqs, 4, NULL) == -ESHUTDOWN);
    rtio_engine_destroy(e);
    close(fd);
    printf("OK\n");
    return 0;
}
