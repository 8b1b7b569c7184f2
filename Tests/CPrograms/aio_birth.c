/*
 * aio_birth.c — the CPU mask of the POSIX AIO drop-in's threads.
 *
 *   LD_PRELOAD=librtio-aio.so aio_birth FILE
 *
 * The main thread pins itself to CPU 0, then makes the process's first aio_*
 * call (an aio_read of FILE, which starts the drop-in's engine on this thread)
 * and waits for it. It then prints one line per thread of the drop-in, found
 * by name in /proc/self/task/<tid>/comm ("rtio-aio-<n>" workers, the
 * "rtio-aio-notify" SIGEV_THREAD notifier):
 *     THREAD <comm> <Cpus_allowed_list>
 * preceded by "CREATOR <Cpus_allowed_list of the main thread>".
 */
#define _GNU_SOURCE
#include <aio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The Cpus_allowed_list value in a status file, or "?" if unreadable. */
static void allowed_list(const char *status, char *out, size_t len) {
    char line[256];
    snprintf(out, len, "?");
    FILE *f = fopen(status, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Cpus_allowed_list:", 18) == 0) {
            char *v = line + 18;
            while (*v == ' ' || *v == '\t') v++;
            v[strcspn(v, "\n")] = 0;
            snprintf(out, len, "%s", v);
        }
    }
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: aio_birth FILE\n"); return 2; }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) { perror("sched_setaffinity"); return 1; }
    char mask[128], path[300];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)gettid());
    allowed_list(path, mask, sizeof mask);
    printf("CREATOR %s\n", mask);

    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) { perror("open"); return 1; }
    static char buf[64];
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = sizeof buf;
    cb.aio_sigevent.sigev_notify = SIGEV_NONE;
    if (aio_read(&cb) != 0) { perror("aio_read"); return 1; }
    const struct aiocb *list[1] = { &cb };
    while (aio_error(&cb) == EINPROGRESS) {
        if (aio_suspend(list, 1, NULL) != 0 && errno != EINTR) { perror("aio_suspend"); return 1; }
    }
    if (aio_return(&cb) < 0) { perror("aio_return"); return 1; }

    DIR *d = opendir("/proc/self/task");
    if (!d) { perror("opendir"); return 1; }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char name[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (!fgets(name, sizeof name, f)) name[0] = 0;
        fclose(f);
        name[strcspn(name, "\n")] = 0;
        if (strncmp(name, "rtio-aio-", 9) != 0) continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        allowed_list(path, mask, sizeof mask);
        printf("THREAD %s %s\n", name, mask);
    }
    closedir(d);
    fflush(stdout);
    return 0;
}
