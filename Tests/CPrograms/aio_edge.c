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
    unlink(path);
    printf("OK\n");
    return 0;
}
