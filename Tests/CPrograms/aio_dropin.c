/*
 * aio_dropin.c — POSIX AIO semantics, run with LD_PRELOAD=librtio-aio.so.
 * Compiled twice by AIODropInTests: plain (aio_read, …) and with
 * -D_FILE_OFFSET_BITS=64 (glibc redirects to aio_read64, …).
 *   ./aio_dropin DIR          every check; prints "PASS <name>" and finally "OK"
 *   ./aio_dropin DIR eagain   with RTIO_AIO_CONFIG of 4 request slots: EAGAIN when none is free
 */
#define _GNU_SOURCE
#include <aio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(name, cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s (line %d, errno %d %s)\n", name, __LINE__, errno, strerror(errno)); exit(1); } \
                               printf("PASS %s\n", name); fflush(stdout); } while (0)

/* For loops: prints nothing unless it fails. */
#define REQUIRE(name, cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s (line %d, errno %d %s)\n", name, __LINE__, errno, strerror(errno)); exit(1); } } while (0)

static char dir[4096];
static char *path(const char *name) { static char p[8][4200]; static int n; n = (n + 1) % 8; snprintf(p[n], sizeof p[n], "%s/%s", dir, name); return p[n]; }

/* Waits for one request with aio_suspend; returns aio_return's value. */
static ssize_t finish(struct aiocb *cb) {
    const struct aiocb *list[1] = { cb };
    while (aio_error(cb) == EINPROGRESS) {
        if (aio_suspend(list, 1, NULL) != 0 && errno != EINTR) { perror("aio_suspend"); exit(1); }
    }
    return aio_return(cb);
}

static int rtio_threads(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[300], name[64] = "";
        snprintf(p, sizeof p, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        if (fgets(name, sizeof name, f) && strncmp(name, "rtio-aio", 8) == 0) n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

#define N 128
static atomic_int signal_count[N], thread_count[N], tid_count[N], bad_code;
static atomic_int lio_signals, alarm_hits;
static pid_t main_tid;
static atomic_int notify_on_main;

static void on_signal(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    if (si->si_code != SI_ASYNCIO) atomic_fetch_add(&bad_code, 1);
    int v = si->si_value.sival_int;
    if (sig == SIGRTMIN && v >= 0 && v < N) atomic_fetch_add(&signal_count[v], 1);
    if (sig == SIGRTMIN + 1 && v >= 0 && v < N) atomic_fetch_add(&tid_count[v], 1);
    if (sig == SIGRTMIN + 2) atomic_fetch_add(&lio_signals, 1);
}
static void on_alarm(int sig) { (void)sig; atomic_fetch_add(&alarm_hits, 1); }
static void on_thread(union sigval v) {
    if (syscall(SYS_gettid) == main_tid) atomic_fetch_add(&notify_on_main, 1);
    if (v.sival_int >= 0 && v.sival_int < N) atomic_fetch_add(&thread_count[v.sival_int], 1);
}

static void wait_total(atomic_int *counts, int n) {
    for (int spins = 0; spins < 1000; spins++) {
        int total = 0;
        for (int i = 0; i < n; i++) total += atomic_load(&counts[i]);
        if (total >= n) break;
        usleep(2000);
    }
    usleep(50000);  /* any duplicate would arrive now */
}

static int exactly_once(atomic_int *counts, int n) {
    for (int i = 0; i < n; i++) if (atomic_load(&counts[i]) != 1) { fprintf(stderr, "request %d notified %d times\n", i, atomic_load(&counts[i])); return 0; }
    return 1;
}

static void test_eagain(void) {
    int zero = open("/dev/zero", O_RDONLY);
    static struct aiocb cb[16];
    size_t big = 64u << 20;
    char *buf = malloc(big);
    int accepted = 0, refused = 0;
    for (int i = 0; i < 16; i++) {
        cb[i] = (struct aiocb){ .aio_fildes = zero, .aio_buf = buf, .aio_nbytes = big, .aio_sigevent.sigev_notify = SIGEV_NONE };
        if (aio_read(&cb[i]) == 0) accepted++;
        else if (errno == EAGAIN) refused++;
        else { perror("aio_read"); exit(1); }
    }
    printf("  accepted %d refused %d\n", accepted, refused);
    CHECK("no free slot -> EAGAIN", refused > 0 && accepted >= 4);
    for (int i = 0; i < 16; i++) if (aio_error(&cb[i]) == EINPROGRESS) finish(&cb[i]);
    struct aiocb again = { .aio_fildes = zero, .aio_buf = buf, .aio_nbytes = 4096 };
    CHECK("slots free again after completion", aio_read(&again) == 0 && finish(&again) == 4096);
    printf("OK\n");
}

int main(int argc, char **argv) {
    snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : "/tmp");
    if (argc > 2 && strcmp(argv[2], "eagain") == 0) { test_eagain(); return 0; }
    main_tid = (pid_t)syscall(SYS_gettid);
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A parent (e.g. a test runner) may have left signals blocked: this thread takes them. */
    sigset_t everything;
    sigfillset(&everything);
    sigprocmask(SIG_UNBLOCK, &everything, NULL);

    /* 1. Write 64 blocks, read them back, verify. */
    enum { BLOCKS = 64, BS = 4096 };
    static char out[BLOCKS][BS], in[BLOCKS][BS];
    static struct aiocb cbs[BLOCKS];
    const struct aiocb *list[BLOCKS];
    int fd = open(path("data"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK("open", fd >= 0);
    for (int b = 0; b < BLOCKS; b++) {
        for (int i = 0; i < BS; i++) out[b][i] = (char)(b * 31 + i * 7);
        cbs[b] = (struct aiocb){ .aio_fildes = fd, .aio_buf = out[b], .aio_nbytes = BS, .aio_offset = (off_t)b * BS };
        cbs[b].aio_sigevent.sigev_notify = SIGEV_NONE;
        REQUIRE("aio_write accepted", aio_write(&cbs[b]) == 0);
        list[b] = &cbs[b];
    }
    CHECK("engine threads are RealtimeIO's (preload active)", rtio_threads() >= 1);
    for (int b = 0; b < BLOCKS; b++) REQUIRE("aio_write result", finish(&cbs[b]) == BS);
    struct aiocb sync = { .aio_fildes = fd };
    CHECK("aio_fsync(O_SYNC)", aio_fsync(O_SYNC, &sync) == 0 && finish(&sync) == 0);
    sync = (struct aiocb){ .aio_fildes = fd };
    CHECK("aio_fsync(O_DSYNC)", aio_fsync(O_DSYNC, &sync) == 0 && finish(&sync) == 0);
    for (int b = 0; b < BLOCKS; b++) {
        cbs[b] = (struct aiocb){ .aio_fildes = fd, .aio_buf = in[b], .aio_nbytes = BS, .aio_offset = (off_t)b * BS };
        REQUIRE("aio_read accepted", aio_read(&cbs[b]) == 0);
    }
    for (int done = 0; done < BLOCKS;) {  /* aio_suspend on the whole list */
        REQUIRE("aio_suspend(list)", aio_suspend(list, BLOCKS, NULL) == 0);
        done = 0;
        for (int b = 0; b < BLOCKS; b++) if (aio_error(&cbs[b]) != EINPROGRESS) done++;
    }
    for (int b = 0; b < BLOCKS; b++) REQUIRE("aio_read result", aio_error(&cbs[b]) == 0 && aio_return(&cbs[b]) == BS);
    CHECK("data verified", memcmp(in, out, sizeof in) == 0);
    CHECK("aio_return only once -> EINVAL", aio_return(&cbs[0]) == -1 && errno == EINVAL);
    char tail[100];
    struct aiocb eof = { .aio_fildes = fd, .aio_buf = tail, .aio_nbytes = 100, .aio_offset = BLOCKS * BS - 10 };
    CHECK("short read at EOF", aio_read(&eof) == 0 && finish(&eof) == 10);

    /* 2. Errors. */
    struct aiocb bad = { .aio_fildes = fd, .aio_buf = tail, .aio_nbytes = 10, .aio_offset = -1 };
    CHECK("negative offset -> EINVAL", aio_read(&bad) == -1 && errno == EINVAL);
    bad.aio_offset = 0; bad.aio_reqprio = 1000;
    CHECK("bad aio_reqprio -> EINVAL", aio_read(&bad) == -1 && errno == EINVAL);
    bad.aio_reqprio = 0; bad.aio_nbytes = (size_t)-1;
    CHECK("aio_nbytes > SSIZE_MAX -> EINVAL", aio_write(&bad) == -1 && errno == EINVAL);
    bad.aio_nbytes = 10; bad.aio_fildes = -1;
    /* As glibc: the call succeeds and the request completes with EBADF. */
    CHECK("bad fd -> EBADF", aio_read(&bad) == 0 && finish(&bad) == -1 && aio_error(&bad) == EBADF);
    int ro = open(path("data"), O_RDONLY);
    bad.aio_fildes = ro;
    CHECK("write on O_RDONLY -> EBADF", aio_write(&bad) == 0 && finish(&bad) == -1 && aio_error(&bad) == EBADF);
    bad.aio_fildes = -1;
    CHECK("aio_fsync bad fd -> EBADF", aio_fsync(O_SYNC, &bad) == -1 && errno == EBADF);
    bad.aio_fildes = fd;
    CHECK("aio_fsync bad op -> EINVAL", aio_fsync(12345, &bad) == -1 && errno == EINVAL);
    bad.aio_sigevent.sigev_notify = 77;
    CHECK("bad sigev_notify -> EINVAL", aio_read(&bad) == -1 && errno == EINVAL);
    bad.aio_sigevent.sigev_notify = SIGEV_NONE;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    struct aiocb isdir = { .aio_fildes = dfd, .aio_buf = tail, .aio_nbytes = 10 };
    CHECK("I/O error through aio_error/aio_return", aio_read(&isdir) == 0 && finish(&isdir) == -1 && aio_error(&isdir) == EISDIR);

    /* 3. In progress, suspend timeout, cancel. */
    int zero = open("/dev/zero", O_RDONLY);
    size_t big = 256u << 20;
    char *huge = malloc(big);
    struct aiocb slow = { .aio_fildes = zero, .aio_buf = huge, .aio_nbytes = big };
    CHECK("long read accepted", aio_read(&slow) == 0);
    int inprogress = aio_error(&slow);
    int cancel_running = aio_cancel(zero, &slow);
    int cancel_fd = aio_cancel(zero, NULL);
    printf("  aio_error right after submit: %d, aio_cancel: %d / %d\n", inprogress, cancel_running, cancel_fd);
    CHECK("aio_error EINPROGRESS while running", inprogress == EINPROGRESS);
    /* Still queued (AIO_CANCELED, ECANCELED) or already running (AIO_NOTCANCELED, completes). */
    CHECK("aio_cancel right after submit -> AIO_CANCELED or AIO_NOTCANCELED",
          (cancel_running == AIO_CANCELED && cancel_fd == AIO_ALLDONE) || (cancel_running == AIO_NOTCANCELED && cancel_fd == AIO_NOTCANCELED));
    ssize_t slow_result = finish(&slow);
    CHECK("long read completes or is cancelled", cancel_running == AIO_CANCELED ? slow_result == -1 && aio_error(&slow) == ECANCELED : slow_result == (ssize_t)big);
    CHECK("aio_cancel finished -> AIO_ALLDONE", aio_cancel(zero, &slow) == AIO_ALLDONE && aio_cancel(zero, NULL) == AIO_ALLDONE);
    CHECK("aio_cancel bad fd -> EBADF", aio_cancel(-1, NULL) == -1 && errno == EBADF);
    CHECK("aio_cancel fd mismatch -> EINVAL", aio_cancel(fd, &slow) == -1 && errno == EINVAL);

    /* A control block that never completes (its status forced to EINPROGRESS). */
    struct aiocb never; memset(&never, 0, sizeof never); never.__error_code = EINPROGRESS;
    const struct aiocb *nl[2] = { NULL, &never };
    struct timespec ts = { 0, 30 * 1000 * 1000 }, t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = aio_suspend(nl, 2, &ts);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("  aio_suspend timeout after %.1f ms\n", ms);
    CHECK("aio_suspend timeout -> EAGAIN", rc == -1 && errno == EAGAIN && ms >= 29);
    struct sigaction sa = { .sa_handler = on_alarm };  /* no SA_RESTART */
    sigaction(SIGALRM, &sa, NULL);
    timer_t timer;
    struct sigevent tev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM };
    timer_create(CLOCK_MONOTONIC, &tev, &timer);
    struct itimerspec its = { .it_value = { 0, 20 * 1000 * 1000 } };
    timer_settime(timer, 0, &its, NULL);
    struct timespec five = { 5, 0 };
    rc = aio_suspend(nl, 2, &five);
    CHECK("aio_suspend interrupted -> EINTR", rc == -1 && errno == EINTR && alarm_hits == 1);

    /* 4. Notifications, exactly once each. */
    struct sigaction ss = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | SA_RESTART };
    sigemptyset(&ss.sa_mask);
    sigaction(SIGRTMIN, &ss, NULL);
    sigaction(SIGRTMIN + 1, &ss, NULL);
    sigaction(SIGRTMIN + 2, &ss, NULL);
    static char small[N][64];
    static struct aiocb ncb[N];
    for (int i = 0; i < N; i++) {
        ncb[i] = (struct aiocb){ .aio_fildes = fd, .aio_buf = small[i], .aio_nbytes = 64, .aio_offset = i * 64 };
        ncb[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        ncb[i].aio_sigevent.sigev_signo = SIGRTMIN;
        ncb[i].aio_sigevent.sigev_value.sival_int = i;
        if (aio_read(&ncb[i]) != 0) { perror("aio_read SIGEV_SIGNAL"); return 1; }
    }
    for (int i = 0; i < N; i++) finish(&ncb[i]);
    wait_total(signal_count, N);
    CHECK("SIGEV_SIGNAL exactly once per request (si_code SI_ASYNCIO, sigev_value)", exactly_once(signal_count, N) && bad_code == 0);

    for (int i = 0; i < N; i++) {
        ncb[i] = (struct aiocb){ .aio_fildes = fd, .aio_buf = small[i], .aio_nbytes = 64, .aio_offset = i * 64 };
        ncb[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
        ncb[i].aio_sigevent.sigev_notify_function = on_thread;
        ncb[i].aio_sigevent.sigev_value.sival_int = i;
        if (aio_read(&ncb[i]) != 0) { perror("aio_read SIGEV_THREAD"); return 1; }
    }
    for (int i = 0; i < N; i++) finish(&ncb[i]);
    wait_total(thread_count, N);
    CHECK("SIGEV_THREAD exactly once per request, off the caller's thread", exactly_once(thread_count, N) && notify_on_main == 0);

    for (int i = 0; i < N; i++) {
        ncb[i] = (struct aiocb){ .aio_fildes = fd, .aio_buf = small[i], .aio_nbytes = 64, .aio_offset = i * 64 };
        ncb[i].aio_sigevent.sigev_notify = SIGEV_THREAD_ID;
        ncb[i].aio_sigevent.sigev_signo = SIGRTMIN + 1;
        ncb[i].aio_sigevent._sigev_un._tid = main_tid;
        ncb[i].aio_sigevent.sigev_value.sival_int = i;
        if (aio_read(&ncb[i]) != 0) { perror("aio_read SIGEV_THREAD_ID"); return 1; }
    }
    for (int i = 0; i < N; i++) finish(&ncb[i]);
    wait_total(tid_count, N);
    CHECK("SIGEV_THREAD_ID exactly once per request", exactly_once(tid_count, N) && bad_code == 0);

    /* 5. lio_listio. */
    static char lout[16][512], lin[16][512];
    static struct aiocb lcb[17];
    struct aiocb *llist[17];
    int lfd = open(path("lio"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    for (int i = 0; i < 16; i++) {
        memset(lout[i], 'A' + i, 512);
        lcb[i] = (struct aiocb){ .aio_fildes = lfd, .aio_buf = lout[i], .aio_nbytes = 512, .aio_offset = i * 512, .aio_lio_opcode = LIO_WRITE };
        llist[i] = &lcb[i];
    }
    lcb[16] = (struct aiocb){ .aio_lio_opcode = LIO_NOP, .aio_fildes = -1 };
    llist[16] = &lcb[16];
    CHECK("lio_listio(LIO_WAIT) writes", lio_listio(LIO_WAIT, llist, 17, NULL) == 0);
    int all = 1;
    for (int i = 0; i < 16; i++) all &= aio_error(&lcb[i]) == 0 && aio_return(&lcb[i]) == 512;
    char check[16 * 512];
    CHECK("lio_listio(LIO_WAIT) all done on return, data written",
          all && pread(lfd, check, sizeof check, 0) == (ssize_t)sizeof check && memcmp(check, lout, sizeof check) == 0);
    for (int i = 0; i < 16; i++)
        lcb[i] = (struct aiocb){ .aio_fildes = lfd, .aio_buf = lin[i], .aio_nbytes = 512, .aio_offset = i * 512, .aio_lio_opcode = LIO_READ };
    struct sigevent lsev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 2 };
    CHECK("lio_listio(LIO_NOWAIT) reads", lio_listio(LIO_NOWAIT, llist, 17, &lsev) == 0);
    for (int i = 0; i < 16; i++) REQUIRE("lio read result", finish(&lcb[i]) == 512);
    for (int spins = 0; spins < 500 && lio_signals == 0; spins++) usleep(2000);
    usleep(50000);
    CHECK("lio_listio(LIO_NOWAIT) data and one group signal", memcmp(lin, lout, sizeof lin) == 0 && lio_signals == 1);
    lcb[3].aio_offset = -5;
    rc = lio_listio(LIO_WAIT, llist, 17, NULL);
    CHECK("lio_listio with a bad entry -> EIO, entry reports EINVAL", rc == -1 && errno == EIO && aio_error(&lcb[3]) == EINVAL && aio_error(&lcb[4]) == 0);

    /* 6. O_APPEND writes land in call order. */
    int afd = open(path("append"), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    static char rec[200][8];
    static struct aiocb acb[200];
    for (int i = 0; i < 200; i++) {
        snprintf(rec[i], sizeof rec[i], "%06d\n", i);
        acb[i] = (struct aiocb){ .aio_fildes = afd, .aio_buf = rec[i], .aio_nbytes = 7 };
        if (aio_write(&acb[i]) != 0) { perror("append"); return 1; }
    }
    for (int i = 0; i < 200; i++) finish(&acb[i]);
    char abuf[200 * 7 + 1];
    int rfd = open(path("append"), O_RDONLY);
    ssize_t got = read(rfd, abuf, sizeof abuf);
    int ordered = got == 200 * 7;
    for (int i = 0; ordered && i < 200; i++) ordered = memcmp(abuf + i * 7, rec[i], 7) == 0;
    CHECK("O_APPEND writes in call order", ordered);

    /* 7. fork: parent and child both complete I/O. */
    pid_t child = fork();
    if (child == 0) {
        char cbuf[BS];
        struct aiocb c = { .aio_fildes = fd, .aio_buf = cbuf, .aio_nbytes = BS, .aio_offset = 5 * BS };
        if (aio_read(&c) != 0 || finish(&c) != BS || memcmp(cbuf, out[5], BS) != 0) _exit(2);
        struct aiocb w = { .aio_fildes = fd, .aio_buf = out[7], .aio_nbytes = BS, .aio_offset = 70 * BS };
        if (aio_write(&w) != 0 || finish(&w) != BS) _exit(3);
        _exit(rtio_threads() >= 1 ? 0 : 4);
    }
    char pbuf[BS];
    struct aiocb p = { .aio_fildes = fd, .aio_buf = pbuf, .aio_nbytes = BS, .aio_offset = 9 * BS };
    CHECK("parent I/O after fork", aio_read(&p) == 0 && finish(&p) == BS && memcmp(pbuf, out[9], BS) == 0);
    int status;
    waitpid(child, &status, 0);
    printf("  child exit status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    CHECK("forked child completes I/O on its own engine", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK("child's write visible", pread(fd, pbuf, BS, 70 * BS) == BS && memcmp(pbuf, out[7], BS) == 0);

    struct aioinit ai = { .aio_threads = 4, .aio_num = 64 };
    aio_init(&ai);
    unlink(path("data")); unlink(path("lio")); unlink(path("append"));
    printf("OK\n");
    return 0;
}
