/*
 * inflight_seccomp.c — a group asking for requests in flight ("inFlight") in a
 * process where a seccomp filter refuses io_uring_setup with EPERM, as
 * container runtimes' default profiles do.
 *
 * Under "bestEffort" the engine starts, reports the degradation (naming the
 * worker, io_uring and the remedy) and serves reads one at a time; under
 * "required" creation fails with -EPERM and says why.
 * Prints "PASS <name>" per check and "OK" at the end; exits 1 at the first failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <realtimeio.h>

#define CHECK(name, cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s (line %d)\n", name, __LINE__); exit(1); } \
                               printf("PASS %s\n", name); } while (0)

/* io_uring_setup -> EPERM; every other call allowed. */
static int refuse_io_uring(void) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = { .len = sizeof filter / sizeof filter[0], .filter = filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) return -errno;
    return 0;
}

int main(void) {
    CHECK("seccomp filter installed", refuse_io_uring() == 0);
    CHECK("io_uring_setup refused", syscall(__NR_io_uring_setup, 4, calloc(1, 120)) == -1 && errno == EPERM);

    char path[] = "/tmp/rtio-inflight-XXXXXX";
    int fd = mkstemp(path);
    CHECK("temp file", fd >= 0);
    unlink(path);
    char data[8192];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i * 13);
    CHECK("temp file written", pwrite(fd, data, sizeof data, 0) == (ssize_t)sizeof data);

    char err[1024];
    rtio_engine *e = NULL;
    int rc = rtio_engine_create(
        "{\"groups\":[{\"name\":\"fly\",\"workers\":1,\"inFlight\":8}],\"ringCapacity\":8,\"requestsInFlight\":8,"
        "\"privilegePolicy\":\"bestEffort\",\"spinBudgetNanoseconds\":0}", &e, err, sizeof err);
    CHECK("bestEffort: created", rc == 0 && e != NULL);
    printf("  degradations: %s\n", err);
    CHECK("bestEffort: degradation names the worker, the depth and io_uring",
          strstr(err, "rtio-fly-0") && strstr(err, "8 requests in flight") && strstr(err, "io_uring"));
    CHECK("bestEffort: says what runs instead and what to do",
          strstr(err, "one request at a time") && strstr(err, "remedy"));

    char back[4096];
    memset(back, 0, sizeof back);
    CHECK("read submitted", rtio_submit_read(e, fd, back, sizeof back, 4096, 7) == 0);
    struct rtio_completion c;
    int got = 0;
    for (int tries = 0; got == 0 && tries < 100; tries++) {
        got = rtio_reap(e, &c, 1);
        if (got == 0) { struct pollfd p = { rtio_completion_fd(e), POLLIN, 0 }; poll(&p, 1, 100); }
    }
    CHECK("read completed one at a time with its bytes",
          got == 1 && c.tag == 7 && c.result == 4096 && memcmp(back, data + 4096, 4096) == 0);
    rtio_engine_destroy(e);

    e = NULL;
    rc = rtio_engine_create(
        "{\"groups\":[{\"name\":\"fly\",\"workers\":1,\"inFlight\":8}],\"ringCapacity\":8,\"requestsInFlight\":8,"
        "\"privilegePolicy\":\"required\",\"spinBudgetNanoseconds\":0}", &e, err, sizeof err);
    printf("  required: %s\n", err);
    CHECK("required: -EPERM naming io_uring", rc == -EPERM && e == NULL && strstr(err, "io_uring") && strstr(err, "inFlight"));
    close(fd);
    printf("OK\n");
    return 0;
}
