/*
 * aio_listio.c — lio_listio as POSIX and glibc: per-entry notifications plus
 * the list's, EIO when an entry fails, EINVAL for an invalid opcode.
 *   ./aio_listio DIR
 */
#include "aio_common.h"

enum { N = 16, BS = 512 };
static atomic_int entry_calls[N], list_calls, entry_signals;

static void on_entry(union sigval v) { if (v.sival_int >= 0 && v.sival_int < N) atomic_fetch_add(&entry_calls[v.sival_int], 1); }
static void on_list(union sigval v) { (void)v; atomic_fetch_add(&list_calls, 1); }
static void on_signal(int sig, siginfo_t *si, void *uc) { (void)sig; (void)si; (void)uc; atomic_fetch_add(&entry_signals, 1); }

static int total(atomic_int *c, int n) { int t = 0; for (int i = 0; i < n; i++) t += atomic_load(&c[i]); return t; }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/lio", argc > 1 ? argv[1] : "/tmp");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) DIE("open");
    static char out[N][BS], in[N][BS];
    static struct aiocb cb[N];
    struct aiocb *list[N];
    for (int i = 0; i < N; i++) {
        memset(out[i], 'a' + i, BS);
        cb[i] = (struct aiocb){ .aio_fildes = fd, .aio_buf = out[i], .aio_nbytes = BS, .aio_offset = i * BS, .aio_lio_opcode = LIO_WRITE };
        cb[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
        cb[i].aio_sigevent.sigev_notify_function = on_entry;
        cb[i].aio_sigevent.sigev_value.sival_int = i;
        list[i] = &cb[i];
    }
    /* 1. LIO_NOWAIT with a list sigevent: every entry's own and the list's. */
    struct sigevent lsev = { .sigev_notify = SIGEV_THREAD };
    lsev.sigev_notify_function = on_list;
    RESULT("nowait_rc", "%d", lio_listio(LIO_NOWAIT, list, N, &lsev));
    for (int i = 0; i < N; i++) if (aio_finish(&cb[i]) != BS) DIE("lio write");
    for (int i = 0; i < 60000 && (total(entry_calls, N) < N || atomic_load(&list_calls) < 1); i++) usleep(1000);
    usleep(50 * 1000);
    int once = 1;
    for (int i = 0; i < N; i++) once &= atomic_load(&entry_calls[i]) == 1;
    RESULT("nowait_entry_notifications", "%d", total(entry_calls, N));
    RESULT("nowait_entry_each_once", "%d", once);
    RESULT("nowait_list_notifications", "%d", atomic_load(&list_calls));

    /* 2. LIO_WAIT: entries' own notifications too (a signal each). */
    struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGRTMIN + 3, &sa, NULL);
    for (int i = 0; i < N; i++) {
        cb[i] = (struct aiocb){ .aio_fildes = fd, .aio_buf = in[i], .aio_nbytes = BS, .aio_offset = i * BS, .aio_lio_opcode = LIO_READ };
        cb[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        cb[i].aio_sigevent.sigev_signo = SIGRTMIN + 3;
    }
    int rc = lio_listio(LIO_WAIT, list, N, NULL);
    RESULT("wait_rc", "%d", rc);
    wait_count(&entry_signals, N, 60);
    usleep(50 * 1000);
    RESULT("wait_entry_signals", "%d", atomic_load(&entry_signals));
    RESULT("wait_data_ok", "%d", memcmp(in, out, sizeof in) == 0);
    for (int i = 0; i < N; i++) aio_return(&cb[i]);

    /* 3. An entry that fails during execution (a closed descriptor): -1/EIO with LIO_WAIT. */
    for (int i = 0; i < N; i++) {
        cb[i] = (struct aiocb){ .aio_fildes = fd, .aio_buf = in[i], .aio_nbytes = BS, .aio_offset = i * BS, .aio_lio_opcode = LIO_READ };
        cb[i].aio_sigevent.sigev_notify = SIGEV_NONE;
    }
    int closed = open(path, O_RDONLY);
    close(closed);
    cb[5].aio_fildes = closed;
    errno = 0;
    rc = lio_listio(LIO_WAIT, list, N, NULL);
    RESULT("wait_exec_failure", "%d %d entry5=%d entry6=%d", rc, rc == 0 ? 0 : errno, aio_error(&cb[5]), aio_error(&cb[6]));
    for (int i = 0; i < N; i++) aio_return(&cb[i]);

    /* 4. An invalid opcode: that entry EINVAL, the call -1/EIO, the others done. */
    cb[5].aio_fildes = fd;
    cb[7].aio_lio_opcode = 99;
    errno = 0;
    rc = lio_listio(LIO_WAIT, list, N, NULL);
    RESULT("wait_bad_opcode", "%d %d entry7=%d entry8=%d", rc, rc == 0 ? 0 : errno, aio_error(&cb[7]), aio_error(&cb[8]));
    for (int i = 0; i < N; i++) aio_return(&cb[i]);

    /* 5. LIO_NOWAIT where every entry has a bad descriptor: accepted (not EAGAIN), each EBADF. */
    for (int i = 0; i < N; i++) { cb[i].aio_fildes = closed; cb[i].aio_lio_opcode = LIO_READ; }
    atomic_store(&list_calls, 0);
    errno = 0;
    rc = lio_listio(LIO_NOWAIT, list, N, &lsev);
    int ebadf = 0;
    for (int i = 0; i < N; i++) { aio_finish(&cb[i]); ebadf += aio_error(&cb[i]) == EBADF; }
    wait_count(&list_calls, 1, 60);
    RESULT("nowait_all_bad_fd", "%d %d ebadf=%d list=%d", rc, rc == 0 ? 0 : errno, ebadf, atomic_load(&list_calls));

    /* 6. Nothing to do (all LIO_NOP / NULL) with LIO_NOWAIT: 0, and the list notification still comes. */
    atomic_store(&list_calls, 0);
    for (int i = 0; i < N; i++) cb[i].aio_lio_opcode = LIO_NOP;
    list[3] = NULL;
    rc = lio_listio(LIO_NOWAIT, list, N, &lsev);
    wait_count(&list_calls, 1, 60);
    RESULT("nowait_nothing", "%d list=%d", rc, atomic_load(&list_calls));
    unlink(path);
    printf("OK\n");
    return 0;
}
