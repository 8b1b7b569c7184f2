/*
 * c_abi_errors.c — every error path of librealtimeio's C ABI.
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
#include <linux/falloc.h>
#include <realtimeio.h>

#define CHECK(name, cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s (line %d)\n", name, __LINE__); exit(1); } \
                               printf("PASS %s\n", name); } while (0)

static const char *good = "{\"groups\":[{\"name\":\"e\",\"workers\":1}],\"ringCapacity\":8,\"requestsInFlight\":4,\"spinBudgetNanoseconds\":0}";

static int reap_n(rtio_engine *e, struct rtio_completion *c, int want) {
    int got = 0;
    for (int spins = 0; got < want && spins < 100000; spins++) {
        int n = rtio_reap(e, c + got, (unsigned)(want - got));
        if (n < 0) return n;
        if (n == 0) { struct pollfd p = { rtio_completion_fd(e), POLLIN, 0 }; poll(&p, 1, 100); }
        got += n;
    }
    return got;
}

int main(void) {
    char err[256];
    rtio_engine *e = (rtio_engine *)1;

    /* Bad JSON: message in errbuf, -EINVAL, *out NULL. */
    memset(err, 'x', sizeof err);
    int rc = rtio_engine_create("{\"groups\": [", &e, err, sizeof err);
    CHECK("malformed JSON -> -EINVAL", rc == -EINVAL && e == NULL);
    CHECK("malformed JSON message", strstr(err, "JSON") != NULL && strlen(err) < sizeof err);
    printf("  message: %s\n", err);

    rc = rtio_engine_create("{\"groups\":[{\"name\":\"x\",\"workers\":0}]}", &e, err, sizeof err);
    CHECK("invalid field -> -EINVAL naming the field", rc == -EINVAL && strstr(err, "groups[0].workers") != NULL);
    printf("  message: %s\n", err);

    rc = rtio_engine_create("{\"groups\":[{\"name\":\"x\"}]}", &e, err, sizeof err);
    CHECK("missing field named", rc == -EINVAL && strstr(err, "workers") != NULL);
    printf("  message: %s\n", err);

    char tiny[8];
    rc = rtio_engine_create("nope", &e, tiny, sizeof tiny);
    CHECK("errbuf truncated and terminated", rc == -EINVAL && strlen(tiny) == sizeof tiny - 1);
    rc = rtio_engine_create("nope", &e, NULL, 0);
    CHECK("NULL errbuf allowed", rc == -EINVAL);
    CHECK("NULL config", rtio_engine_create(NULL, &e, err, sizeof err) == -EINVAL);
    CHECK("NULL out", rtio_engine_create(good, NULL, err, sizeof err) == -EINVAL);

    rc = rtio_engine_create(good, &e, err, sizeof err);
    CHECK("create", rc == 0 && e != NULL);
    CHECK("worker count", rtio_worker_count(e) == 1);

    int fd = open("/tmp", O_RDONLY | O_DIRECTORY);
    struct rtio_completion c[8];
    char buf[64];

    /* Bad fd: accepted, completes with -EBADF. */
    CHECK("bad fd accepted", rtio_submit_read(e, 9999, buf, sizeof buf, 0, 7) == 0);
    CHECK("bad fd -> EBADF completion", reap_n(e, c, 1) == 1 && c[0].tag == 7 && c[0].result == -EBADF);
    CHECK("directory read -> EISDIR completion",
          rtio_submit_read(e, fd, buf, sizeof buf, 0, 8) == 0 && reap_n(e, c, 1) == 1 && c[0].result == -EISDIR);

    /* Bad ranges and arguments: refused at submit. */
    CHECK("negative offset -> -EINVAL", rtio_submit_read(e, fd, buf, sizeof buf, -1, 1) == -EINVAL);
    CHECK("write negative offset -> -EINVAL", rtio_submit_write(e, fd, buf, sizeof buf, -4096, 1) == -EINVAL);
    CHECK("offset+len overflow -> -EINVAL", rtio_submit_read(e, fd, buf, sizeof buf, INT64_MAX - 10, 1) == -EINVAL);
    CHECK("len > SSIZE_MAX -> -EINVAL", rtio_submit_read(e, fd, buf, (size_t)-1, 0, 1) == -EINVAL);
    CHECK("NULL buffer -> -EINVAL", rtio_submit_read(e, fd, NULL, 10, 0, 1) == -EINVAL);
    struct iovec many[1025];
    for (int i = 0; i < 1025; i++) many[i] = (struct iovec){ buf, 1 };
    CHECK("too many iovecs -> -EINVAL", rtio_submit_readv(e, fd, many, 1025, 0, 1) == -EINVAL);
    CHECK("negative iovcnt -> -EINVAL", rtio_submit_writev(e, fd, many, -1, 0, 1) == -EINVAL);
    struct iovec null_base[2] = { { buf, 8 }, { NULL, 8 } };
    CHECK("NULL iov_base with a length -> -EFAULT (the host survives)", rtio_submit_readv(e, fd, null_base, 2, 0, 1) == -EFAULT);
    CHECK("NULL iov_base with a length, inline or not -> -EFAULT", rtio_submit_writev(e, fd, null_base, 2, 0, 1) == -EFAULT);
    struct iovec null_empty[2] = { { buf, 8 }, { NULL, 0 } };
    CHECK("NULL iov_base with length 0 is fine", rtio_submit_readv(e, fd, null_empty, 2, 0, 11) == 0);
    CHECK("NULL iov_base with length 0 runs (on a directory: EISDIR)", reap_n(e, c, 1) == 1 && c[0].tag == 11 && c[0].result == -EISDIR);
    struct iovec wrap[2] = { { buf, (size_t)INT64_MAX }, { buf, (size_t)INT64_MAX } };
    CHECK("iovec lengths whose sum wraps -> -EINVAL", rtio_submit_readv(e, fd, wrap, 2, 0, 1) == -EINVAL);
    struct iovec too_long[1] = { { buf, (size_t)-1 } };
    CHECK("iov_len above SSIZE_MAX -> -EINVAL", rtio_submit_readv(e, fd, too_long, 1, 0, 1) == -EINVAL);
    CHECK("fallocate negative length -> -EINVAL", rtio_submit_fallocate(e, fd, 0, 0, -1, 1) == -EINVAL);
    CHECK("fallocate bad mode -> -EINVAL", rtio_submit_fallocate(e, fd, FALLOC_FL_COLLAPSE_RANGE, 0, 1, 1) == -EINVAL);
    CHECK("NULL engine -> -EINVAL", rtio_submit_fsync(NULL, fd, 1) == -EINVAL);
    CHECK("reap NULL out -> -EINVAL", rtio_reap(e, NULL, 1) == -EINVAL);
    struct rtio_worker_info info;
    CHECK("worker_info bad index -> -EINVAL", rtio_worker_info(e, 1, &info) == -EINVAL);
    CHECK("worker_info", rtio_worker_info(e, 0, &info) == 0 && info.tid > 0 && strncmp(info.name, "rtio-e-0", 16) == 0
          && strcmp(info.group, "e") == 0 && info.policy == 0 && info.completed == 3);

    /* Full: 4 request slots; slots are freed only by reap. */
    for (int i = 0; i < 4; i++) CHECK("fill slot", rtio_submit_fsync(e, fd, 100 + i) == 0);
    CHECK("full -> -EAGAIN", rtio_submit_fsync(e, fd, 200) == -EAGAIN);
    CHECK("reap frees slots", reap_n(e, c, 4) == 4);
    CHECK("submit after reap", rtio_submit_fsync(e, fd, 201) == 0 && reap_n(e, c, 1) == 1 && c[0].tag == 201);

    /* Shutdown. */
    CHECK("shutdown bad mode -> -EINVAL", rtio_engine_shutdown(e, 7) == -EINVAL);
    CHECK("queued before shutdown", rtio_submit_fsync(e, fd, 300) == 0);
    CHECK("shutdown", rtio_engine_shutdown(e, RTIO_SHUTDOWN_DRAIN) == 0);
    CHECK("shutdown idempotent", rtio_engine_shutdown(e, RTIO_SHUTDOWN_CANCEL) == 0);
    CHECK("after shutdown -> -ESHUTDOWN", rtio_submit_read(e, fd, buf, 1, 0, 1) == -ESHUTDOWN);
    CHECK("completion_fd after shutdown -> -ESHUTDOWN", rtio_completion_fd(e) == -ESHUTDOWN);
    CHECK("queued request completed at shutdown", rtio_reap(e, c, 8) == 1 && c[0].tag == 300);
    rtio_engine_destroy(e);
    rtio_engine_destroy(NULL);

    /* Cancel: one worker busy with a long read of /dev/zero; the requests queued behind it
     * complete with -ECANCELED, the running one finishes. */
    CHECK("create 2", rtio_engine_create(good, &e, err, sizeof err) == 0);
    int zero = open("/dev/zero", O_RDONLY);
    size_t big = 256u << 20;
    char *huge = malloc(big);
    for (int i = 0; i < 4; i++) CHECK("queued long read", rtio_submit_read(e, zero, huge, big, 0, 10 + i) == 0);
    CHECK("shutdown cancel", rtio_engine_shutdown(e, RTIO_SHUTDOWN_CANCEL) == 0);
    int n = rtio_reap(e, c, 8);
    int cancelled = 0, ok = 0;
    for (int i = 0; i < n; i++) { if (c[i].result == -ECANCELED) cancelled++; if (c[i].result == (int64_t)big) ok++; }
    printf("  cancel: %d completions, %d finished, %d cancelled\n", n, ok, cancelled);
    CHECK("every request completed once; queued ones cancelled", n == 4 && ok + cancelled == 4 && cancelled >= 1);
    rtio_engine_destroy(e);
    free(huge);
    close(zero);

    close(fd);
    printf("OK\n");
    return 0;
}
