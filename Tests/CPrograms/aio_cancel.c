/*
 * aio_cancel.c — aio_cancel withdraws queued requests, not running ones.
 *   ./aio_cancel DIR
 * A read on an empty pipe runs (a thread is seen blocked in read(2) on the
 * pipe through /proc/self/task/TID/syscall); more reads of the same pipe are
 * queued behind it (one descriptor's requests run in order). Cancelling a
 * queued one gives AIO_CANCELED, ECANCELED, -1 and its notification; the
 * running one AIO_NOTCANCELED; a finished one AIO_ALLDONE; aio_cancel(fd,
 * NULL) cancels every queued one and reports AIO_NOTCANCELED while one runs.
 */
#include "aio_common.h"
#include <dirent.h>

enum { QUEUED = 8 };
static atomic_int notified[QUEUED + 1];

static void on_done(union sigval v) { if (v.sival_int >= 0 && v.sival_int <= QUEUED) atomic_fetch_add(&notified[v.sival_int], 1); }

/* True once a thread of this process is blocked in read(2) (syscall 0 on x86-64, 63 on arm64) on `fd`. */
static int blocked_in_read(int fd) {
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int found = 0;
    char want[64], want_arm[64];
    snprintf(want, sizeof want, "0 0x%x ", fd);
    snprintf(want_arm, sizeof want_arm, "63 0x%x ", fd);
    while (!found && (e = readdir(d))) {
        char p[300], line[256] = "";
        snprintf(p, sizeof p, "/proc/self/task/%s/syscall", e->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        if (fgets(line, sizeof line, f) && (strncmp(line, want, strlen(want)) == 0 || strncmp(line, want_arm, strlen(want_arm)) == 0)) found = 1;
        fclose(f);
    }
    closedir(d);
    return found;
}

static const char *name(int rc) {
    return rc == AIO_CANCELED ? "AIO_CANCELED" : rc == AIO_NOTCANCELED ? "AIO_NOTCANCELED" : rc == AIO_ALLDONE ? "AIO_ALLDONE" : "error";
}

int main(int argc, char **argv) {
    (void)argc; (void)argv;
    setvbuf(stdout, NULL, _IOLBF, 0);
    int p[2];
    if (pipe(p) != 0) DIE("pipe");
    static char buf[QUEUED + 1][4];
    static struct aiocb cb[QUEUED + 1];
    for (int i = 0; i <= QUEUED; i++) {
        cb[i] = (struct aiocb){ .aio_fildes = p[0], .aio_buf = buf[i], .aio_nbytes = 4 };
        cb[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
        cb[i].aio_sigevent.sigev_notify_function = on_done;
        cb[i].aio_sigevent.sigev_value.sival_int = i;
        if (aio_read(&cb[i]) != 0) DIE("aio_read");
        if (i == 0) {
            int seen = 0;
            for (int k = 0; k < 60000 && !(seen = blocked_in_read(p[0])); k++) usleep(1000);
            if (!seen) DIE("no thread blocked in read on the pipe");
        }
    }
    /* One queued request. */
    int rc = aio_cancel(p[0], &cb[3]);
    RESULT("cancel_queued", "%s", name(rc));
    int error3 = aio_error(&cb[3]);
    RESULT("cancelled_error_return", "%d %zd", error3, error3 == EINPROGRESS ? (ssize_t)0 : aio_return(&cb[3]));
    wait_count(&notified[3], 1, 60);
    RESULT("cancelled_notified", "%d", atomic_load(&notified[3]));
    /* The running one. */
    RESULT("cancel_running", "%s", name(aio_cancel(p[0], &cb[0])));
    RESULT("running_still_in_progress", "%d", aio_error(&cb[0]) == EINPROGRESS);
    /* Every queued one of the descriptor: the running one keeps it from being "all cancelled". */
    RESULT("cancel_fd", "%s", name(aio_cancel(p[0], NULL)));
    int cancelled = 0;
    for (int i = 1; i <= QUEUED; i++) if (i != 3 && aio_error(&cb[i]) == ECANCELED && aio_return(&cb[i]) == -1) cancelled++;
    RESULT("fd_cancelled_count", "%d", cancelled);
    /* The running read completes normally once data arrives. */
    if (write(p[1], "data", 4) != 4) DIE("write");
    ssize_t got = aio_finish(&cb[0]);
    RESULT("running_completes", "%zd %d", got, memcmp(buf[0], "data", 4) == 0);
    RESULT("cancel_done", "%s", name(aio_cancel(p[0], &cb[0])));
    RESULT("cancel_fd_done", "%s", name(aio_cancel(p[0], NULL)));
    int total = 0;
    for (int i = 0; i <= QUEUED; i++) { wait_count(&notified[i], 1, 60); total += atomic_load(&notified[i]); }
    usleep(50 * 1000);
    total = 0;
    for (int i = 0; i <= QUEUED; i++) total += atomic_load(&notified[i]);
    RESULT("notifications", "%d", total);
    printf("OK\n");
    return 0;
}
