/*
 * birth_mask.c — the CPU mask librealtimeio's workers are born with.
 *
 *   birth_mask [--pin0] JSON...
 *
 * With --pin0 the main thread first pins itself to CPU 0 (as a host that
 * placed its own thread would). Then, for each JSON configuration in turn, it
 * creates an engine and prints one line per worker:
 *     WORKER <name> <Cpus_allowed_list of /proc/self/task/<tid>/status>
 * or, when creation fails:
 *     ERROR <negative errno> <errbuf>
 * and shuts the engine down before the next one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <realtimeio.h>

/* The Cpus_allowed_list line of a thread's status, or "?" if unreadable. */
static void allowed_list(int tid, char *out, size_t len) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
    snprintf(out, len, "?");
    FILE *f = fopen(path, "r");
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
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "--pin0") == 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) { perror("sched_setaffinity"); return 1; }
        char mine[128];
        allowed_list((int)gettid(), mine, sizeof mine);
        printf("CREATOR %s\n", mine);
        first = 2;
    }
    for (int i = first; i < argc; i++) {
        char err[1024];
        rtio_engine *e = NULL;
        int rc = rtio_engine_create(argv[i], &e, err, sizeof err);
        if (rc < 0) {
            printf("ERROR %d %s\n", rc, err);
            continue;
        }
        int n = rtio_worker_count(e);
        for (int w = 0; w < n; w++) {
            struct rtio_worker_info info;
            if (rtio_worker_info(e, (unsigned)w, &info) != 0) { printf("WORKER ? ?\n"); continue; }
            char cpus[128];
            allowed_list(info.tid, cpus, sizeof cpus);
            printf("WORKER %s %s\n", info.name, cpus);
        }
        rtio_engine_destroy(e);
    }
    fflush(stdout);
    return 0;
}
