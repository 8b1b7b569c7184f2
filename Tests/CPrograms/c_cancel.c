/*
 * c_cancel.c — rtio_cancel and rtio_serve_here through the C ABI, with a worker
 * stuck in a read.
 *
 * The stuck read: pread(2) into a buffer registered with userfaultfd(2) for
 * missing pages. The kernel's copy to that buffer faults and the worker sleeps
 * until this program resolves the fault; the fault event read from the
 * userfaultfd is the proof that the worker is blocked inside the read.
 *
 * While it is stuck: reads queued behind it are cancelled (RTIO_CANCELED), their
 * -ECANCELED completions are reaped at once, and their buffers stay untouched
 * (never run); the stuck read reports RTIO_NOTCANCELED. After the fault is
 * resolved the stuck read completes normally; reaped requests and a stale handle
 * whose slot carries a later request report RTIO_ALLDONE; bad handles give -EINVAL.
 * A fourth queued read is served on this thread (rtio_serve_here: RTIO_SERVED) while
 * the worker is still stuck: its bytes are there when the call returns, and its one
 * completion (worker RTIO_ON_DEMAND_WORKER) is reaped before the fault is resolved.
 * Prints "PASS <name>" per check and "OK" at the end; exits 1 at the first failure.
 * Needs userfaultfd (root, or vm.unprivileged_userfaultfd=1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <realtimeio.h>

#define CHECK(name, cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s (line %d)\n", name, __LINE__); exit(1); } \
                               printf("PASS %s\n", name); } while (0)

/* Reaps until want completions arrived or max_polls polls of 100 ms found nothing. */
static int reap_n(rtio_engine *e, struct rtio_completion *c, int want, int max_polls) {
    int got = 0;
    for (int polls = 0; got < want && polls < max_polls; ) {
        int n = rtio_reap(e, c + got, (unsigned)(want - got));
        if (n < 0) return n;
        if (n == 0) { struct pollfd p = { rtio_completion_fd(e), POLLIN, 0 }; poll(&p, 1, 100); polls++; }
        got += n;
    }
    return got;
}

enum { QUEUED = 4, SLOTS = 8 };

int main(void) {
    char err[512];
    rtio_engine *e = NULL;
    int rc = rtio_engine_create("{\"groups\":[{\"name\":\"c\",\"workers\":1}],\"ringCapacity\":16,"
                                "\"requestsInFlight\":8,\"spinBudgetNanoseconds\":0}", &e, err, sizeof err);
    CHECK("engine created", rc == 0 && e != NULL);

    char path[] = "/tmp/rtio-c-cancel-XXXXXX";
    int file = mkstemp(path);
    CHECK("temporary file", file >= 0);
    unlink(path);
    char data[64];
    memset(data, 'd', sizeof data);
    CHECK("file written", pwrite(file, data, sizeof data, 0) == (ssize_t)sizeof data);

    long page = sysconf(_SC_PAGESIZE);
    char *trap = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
    if (uffd < 0) {
        fprintf(stderr, "FAIL userfaultfd: %s (run as root or set vm.unprivileged_userfaultfd=1; see tools/setup)\n", strerror(errno));
        return 1;
    }
    struct uffdio_api api = { .api = UFFD_API };
    struct uffdio_register reg = { .range = { (unsigned long)trap, (unsigned long)page }, .mode = UFFDIO_REGISTER_MODE_MISSING };
    CHECK("userfaultfd registered", trap != MAP_FAILED && ioctl(uffd, UFFDIO_API, &api) == 0 && ioctl(uffd, UFFDIO_REGISTER, &reg) == 0);

    /* The stuck read. */
    rtio_handle_t stuck = 0;
    CHECK("submit with handle", rtio_submit_read_h(e, file, trap, sizeof data, 0, 100, &stuck) == 0 && stuck != 0);
    struct uffd_msg msg;
    struct pollfd pu = { uffd, POLLIN, 0 };
    CHECK("the worker is blocked in the read (fault event)",
          poll(&pu, 1, 10000) == 1 && read(uffd, &msg, sizeof msg) == (ssize_t)sizeof msg && msg.event == UFFD_EVENT_PAGEFAULT);

    /* Requests queued behind it. */
    char buffers[QUEUED][64];
    rtio_handle_t queued[QUEUED];
    memset(buffers, 'x', sizeof buffers);
    for (int i = 0; i < QUEUED; i++)
        if (rtio_submit_read_h(e, file, buffers[i], sizeof buffers[i], 0, (uint64_t)i, &queued[i]) != 0) queued[i] = 0;
    CHECK("queued behind the stuck read", queued[0] && queued[1] && queued[2] && queued[3]);
    CHECK("cancel queued -> RTIO_CANCELED", rtio_cancel(e, queued[0]) == RTIO_CANCELED && rtio_cancel(e, queued[2]) == RTIO_CANCELED);
    CHECK("cancel the running read -> RTIO_NOTCANCELED", rtio_cancel(e, stuck) == RTIO_NOTCANCELED);
    CHECK("cancel twice -> RTIO_ALLDONE", rtio_cancel(e, queued[0]) == RTIO_ALLDONE);

    struct rtio_completion c[8];
    int n = reap_n(e, c, 2, 100);
    CHECK("both -ECANCELED completions reaped while the worker is stuck",
          n == 2 && c[0].result == -ECANCELED && c[1].result == -ECANCELED &&
          ((c[0].tag == 0 && c[1].tag == 2) || (c[0].tag == 2 && c[1].tag == 0)) && c[0].worker == 0);

    /* Served on this thread while the worker is stuck. */
    CHECK("serve a queued read here -> RTIO_SERVED", rtio_serve_here(e, queued[3]) == RTIO_SERVED);
    CHECK("its bytes are there when rtio_serve_here returns", buffers[3][0] == 'd' && buffers[3][63] == 'd');
    CHECK("serve the running read -> RTIO_NOTSERVED", rtio_serve_here(e, stuck) == RTIO_NOTSERVED);
    CHECK("serve twice, cancel a served one -> RTIO_ALLDONE",
          rtio_serve_here(e, queued[3]) == RTIO_ALLDONE && rtio_cancel(e, queued[3]) == RTIO_ALLDONE &&
          rtio_serve_here(e, queued[0]) == RTIO_ALLDONE);
    n = reap_n(e, c, 1, 100);
    CHECK("the served read's completion reaped while the worker is stuck",
          n == 1 && c[0].tag == 3 && c[0].result == (int64_t)sizeof data && c[0].worker == RTIO_ON_DEMAND_WORKER);
    CHECK("a busy worker does not rest; bad worker index -> -EINVAL",
          rtio_worker_rests(e, 0) == 0 && rtio_worker_rests(e, 1) == -EINVAL && rtio_worker_rests(NULL, 0) == -EINVAL);
    CHECK("serve: bad handles -> -EINVAL", rtio_serve_here(e, 0) == -EINVAL && rtio_serve_here(NULL, queued[1]) == -EINVAL &&
                                           rtio_serve_here(e, ((uint64_t)1 << 32) | 4096u) == -EINVAL);

    CHECK("bad handles -> -EINVAL", rtio_cancel(e, 0) == -EINVAL && rtio_cancel(NULL, queued[1]) == -EINVAL &&
                                    rtio_cancel(e, ((uint64_t)1 << 32) | 4096u) == -EINVAL);
    rtio_handle_t h = 1;
    CHECK("NULL out -> -EINVAL", rtio_submit_fsync_h(e, file, 9, NULL) == -EINVAL);
    CHECK("refused submit stores 0", rtio_submit_read_h(e, file, data, sizeof data, -1, 9, &h) == -EINVAL && h == 0);

    /* Resolve the fault: the stuck read continues and completes normally. */
    struct uffdio_zeropage zero = { .range = { (unsigned long)trap, (unsigned long)page } };
    CHECK("fault resolved", ioctl(uffd, UFFDIO_ZEROPAGE, &zero) == 0);
    n = reap_n(e, c, 2, 100);
    int stuck_ok = 0, middle_ok = 0;
    for (int i = 0; i < n; i++) {
        if (c[i].tag == 100 && c[i].result == (int64_t)sizeof data) stuck_ok = 1;
        if (c[i].tag == 1 && c[i].result == (int64_t)sizeof data) middle_ok = 1;
    }
    CHECK("the stuck read and the uncancelled one complete normally", n == 2 && stuck_ok && middle_ok);
    CHECK("cancelled requests never ran", buffers[0][0] == 'x' && buffers[2][0] == 'x' && buffers[1][0] == 'd');
    CHECK("no further completion", reap_n(e, c, 1, 2) == 0);
    CHECK("reaped -> RTIO_ALLDONE", rtio_cancel(e, stuck) == RTIO_ALLDONE && rtio_cancel(e, queued[1]) == RTIO_ALLDONE);

    /* Every slot free again: all of them can be taken; a stale handle never cancels the new requests. */
    rtio_handle_t fresh[SLOTS];
    int taken = 0;
    for (int i = 0; i < SLOTS; i++)
        if (rtio_submit_fsync_h(e, file, 200u + (unsigned)i, &fresh[i]) == 0) taken++;
    CHECK("every slot free again", taken == SLOTS);
    CHECK("stale handles -> RTIO_ALLDONE", rtio_cancel(e, queued[0]) == RTIO_ALLDONE && rtio_cancel(e, stuck) == RTIO_ALLDONE);
    CHECK("all fresh requests complete", reap_n(e, c, SLOTS, 100) == SLOTS);

    rtio_engine_destroy(e);
    printf("OK\n");
    return 0;
}
