/*
 * aio_edge.c — edge cases where programs tested against glibc rely on
 * glibc's answers.
 *   ./aio_edge DIR
 */
#include "aio_common.h"

static int pipe_w = -1;
static void *write_later(void *arg) {
    (void)arg;
    usleep(50 * 1000);
    if (write(pipe_w, "z", 1) != 1) DIE("write");
    return NULL;
}

/* Signal before wake-up: a writer thread feeds a pipe once the main thread
 * sleeps in aio_suspend (read from /proc: a barrier, not a delay). */
#define ORDER_ROUNDS 50
static atomic_int order_signals, order_go;
static int order_pipe_w = -1;
static pid_t main_tid;
static void order_handler(int s, siginfo_t *si, void *c) { (void)s; (void)si; (void)c; atomic_fetch_add(&order_signals, 1); }
static int thread_sleeping(pid_t tid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    int f = open(path, O_RDONLY);
    if (f < 0) return 0;
    ssize_t n = read(f, buf, sizeof buf - 1);
    close(f);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] == 'S';
}
static void *write_when_waiting(void *arg) {
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);  /* the signal goes to the main thread */
    for (int i = 0; i < ORDER_ROUNDS; i++) {
        while (atomic_load(&order_go) <= i) usleep(100);
        for (int k = 0; k < 100000 && !thread_sleeping(main_tid); k++) usleep(50);
        if (write(order_pipe_w, "x", 1) != 1) DIE("write");
    }
    return NULL;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/edge", argc > 1 ? argv[1] : "/tmp");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) DIE("open");
    char buf[64] = "0123456789";
    if (pwrite(fd, buf, 64, 0) != 64) DIE("pwrite");

    /* aio_fsync uses only aio_fildes and aio_sigevent: aio_reqprio is ignored. */
    struct aiocb s = { .aio_fildes = fd, .aio_reqprio = 1000 };
    int rc = aio_fsync(O_SYNC, &s);
    RESULT("fsync_ignores_reqprio", "%d %zd", rc, rc == 0 ? aio_finish(&s) : (ssize_t)-errno);

    /* aio_suspend with nothing to wait for returns 0 at once (NULL timeout). */
    const struct aiocb *nulls[3] = { NULL, NULL, NULL };
    RESULT("suspend_nent0", "%d", aio_suspend(nulls, 0, NULL));
    RESULT("suspend_all_null", "%d", aio_suspend(nulls, 3, NULL));

    /* A NULL buffer with a length: EFAULT. */
    struct aiocb nb = { .aio_fildes = fd, .aio_buf = NULL, .aio_nbytes = 10 };
    rc = aio_read(&nb);
    ssize_t r = rc == 0 ? aio_finish(&nb) : -1;
    RESULT("null_buffer", "%d %zd %d", rc, r, rc == 0 ? aio_error(&nb) : errno);
    struct aiocb nw = { .aio_fildes = fd, .aio_buf = NULL, .aio_nbytes = 10 };
    rc = aio_write(&nw);
    r = rc == 0 ? aio_finish(&nw) : -1;
    RESULT("null_buffer_write", "%d %zd %d", rc, r, rc == 0 ? aio_error(&nw) : errno);
    /* A NULL buffer of 0 bytes is fine. */
    struct aiocb zero = { .aio_fildes = fd, .aio_buf = NULL, .aio_nbytes = 0 };
    rc = aio_read(&zero);
    RESULT("null_buffer_zero_bytes", "%d %zd", rc, rc == 0 ? aio_finish(&zero) : (ssize_t)-errno);

    /* Bad descriptor: the call returns 0 and the request completes with EBADF. */
    struct aiocb bad = { .aio_fildes = 987, .aio_buf = buf, .aio_nbytes = 10 };
    rc = aio_read(&bad);
    r = rc == 0 ? aio_finish(&bad) : -1;
    RESULT("bad_fd_read", "%d %zd %d", rc, r, rc == 0 ? aio_error(&bad) : errno);
    /* A negative descriptor: the same (once crashed the drop-in's on-demand mode). */
    struct aiocb negative = { .aio_fildes = -1, .aio_buf = buf, .aio_nbytes = 10 };
    rc = aio_read(&negative);
    r = rc == 0 ? aio_finish(&negative) : -1;
    RESULT("negative_fd_read", "%d %zd %d", rc, r, rc == 0 ? aio_error(&negative) : errno);
    int ro = open(path, O_RDONLY);
    struct aiocb wro = { .aio_fildes = ro, .aio_buf = buf, .aio_nbytes = 10 };
    rc = aio_write(&wro);
    r = rc == 0 ? aio_finish(&wro) : -1;
    RESULT("write_on_read_only_fd", "%d %zd %d", rc, r, rc == 0 ? aio_error(&wro) : errno);

    /* Huge aio_suspend timeouts (tv_sec 1e10, and near the 64-bit ns wrap) wait
     * for the request, which completes once a thread writes the pipe. */
    long long huge[2] = { 10000000000LL, 18446744073LL };
    for (int k = 0; k < 2; k++) {
        int p[2];
        if (pipe(p) != 0) DIE("pipe");
        pipe_w = p[1];
        char c = 0;
        struct aiocb pr = { .aio_fildes = p[0], .aio_buf = &c, .aio_nbytes = 1 };
        if (aio_read(&pr) != 0) DIE("aio_read pipe");
        pthread_t t;
        pthread_create(&t, NULL, write_later, NULL);
        const struct aiocb *l[1] = { &pr };
        struct timespec ts = { .tv_sec = (time_t)huge[k], .tv_nsec = 999999999 };
        int src;
        do { src = aio_suspend(l, 1, &ts); } while (src != 0 && errno == EINTR);
        char label[64];
        snprintf(label, sizeof label, "suspend_huge_timeout_%d", k);
        RESULT(label, "%d %d %zd", src, src == 0 ? 0 : errno, aio_finish(&pr));
        pthread_join(t, NULL);
        close(p[0]); close(p[1]);
    }
    /* aio_return before completion (POSIX: undefined): glibc returns 0 and leaves
     * errno alone; the result is still retrieved once the request is done. */
    {
        int p[2];
        if (pipe(p) != 0) DIE("pipe");
        char c = 0;
        struct aiocb pr = { .aio_fildes = p[0], .aio_buf = &c, .aio_nbytes = 1 };
        if (aio_read(&pr) != 0) DIE("aio_read pipe");
        int before = aio_error(&pr);
        errno = 0;
        (void)aio_return(&pr);  /* its value is undefined (glibc: 0 or -1, racing its thread) */
        int early_errno = errno;
        if (write(p[1], "y", 1) != 1) DIE("write");
        ssize_t done = aio_finish(&pr);
        RESULT("return_before_completion", "%d %d %zd %c", before, early_errno, done, c);
        close(p[0]); close(p[1]);
    }
    /* A request's signal is queued before aio_suspend returns for it: after
     * the wait, its handler has run (glibc: notify, then wake, under its lock). */
    {
        int p[2];
        if (pipe(p) != 0) DIE("pipe");
        order_pipe_w = p[1];
        main_tid = (pid_t)syscall(SYS_gettid);
        struct sigaction sa = { .sa_sigaction = order_handler, .sa_flags = SA_SIGINFO | SA_RESTART };
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGRTMIN + 3, &sa, NULL) != 0) DIE("sigaction");
        pthread_t t;
        pthread_create(&t, NULL, write_when_waiting, NULL);
        int missed = 0;
        for (int i = 0; i < ORDER_ROUNDS; i++) {
            char c;
            struct aiocb pr = { .aio_fildes = p[0], .aio_buf = &c, .aio_nbytes = 1 };
            pr.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
            pr.aio_sigevent.sigev_signo = SIGRTMIN + 3;
            int before = atomic_load(&order_signals);
            if (aio_read(&pr) != 0) DIE("aio_read pipe");
            atomic_store(&order_go, i + 1);
            const struct aiocb *l[1] = { &pr };
            while (aio_error(&pr) == EINPROGRESS) {
                if (aio_suspend(l, 1, NULL) != 0 && errno != EINTR) DIE("aio_suspend");
            }
            if (atomic_load(&order_signals) == before) missed++;
            if (aio_return(&pr) != 1) DIE("aio_return");
        }
        pthread_join(t, NULL);
        RESULT("signal_before_suspend_returns", "%d", missed);
        close(p[0]); close(p[1]);
    }
    unlink(path);
    printf("OK\n");
    return 0;
}
