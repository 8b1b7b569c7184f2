#define _GNU_SOURCE 1
#include "CRealtimeIOShims.h"

#include <errno.h>
#include <malloc.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <string.h>

int rtio_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    struct timespec ts;
    struct timespec *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    long rc = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, tsp, NULL, 0);
    return rc == -1 ? -errno : 0;
}

int rtio_futex_wake(uint32_t *word, int count) {
    long rc = syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
    return rc == -1 ? -errno : (int)rc;
}

pid_t rtio_gettid(void) { return (pid_t)syscall(SYS_gettid); }

int rtio_set_thread_name(const char *name) {
    char buf[16];
    strncpy(buf, name, 15);
    buf[15] = 0;
    return prctl(PR_SET_NAME, buf, 0, 0, 0) == 0 ? 0 : -errno;
}

int rtio_set_thread_name_of(pthread_t thread, const char *name) {
    char buf[16];
    strncpy(buf, name, 15);
    buf[15] = 0;
    return -pthread_setname_np(thread, buf);
}

int rtio_set_thread_nice(pid_t tid, int nice) {
    return setpriority(PRIO_PROCESS, (id_t)tid, nice) == 0 ? 0 : -errno;
}

int rtio_get_thread_nice(pid_t tid) {
    errno = 0;
    int n = getpriority(PRIO_PROCESS, (id_t)tid);
    if (n == -1 && errno != 0) return -1000 - errno;
    return n;
}

int rtio_sched_getcpu(void) {
    int cpu = sched_getcpu();
    return cpu < 0 ? -errno : cpu;
}

_Static_assert(sizeof(rtio_cpu_set) == sizeof(cpu_set_t), "rtio_cpu_set must match cpu_set_t");
#define AS_CPU_SET(s) ((cpu_set_t *)(void *)(s))
#define AS_CONST_CPU_SET(s) ((const cpu_set_t *)(const void *)(s))

void rtio_cpuset_zero(rtio_cpu_set *set) { CPU_ZERO(AS_CPU_SET(set)); }
void rtio_cpuset_add(rtio_cpu_set *set, int cpu) {
    if (cpu >= 0 && cpu < CPU_SETSIZE) CPU_SET(cpu, AS_CPU_SET(set));
}
bool rtio_cpuset_contains(const rtio_cpu_set *set, int cpu) {
    return cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, AS_CONST_CPU_SET(set));
}
int rtio_cpuset_count(const rtio_cpu_set *set) { return CPU_COUNT(AS_CONST_CPU_SET(set)); }
int rtio_cpuset_capacity(void) { return CPU_SETSIZE; }

int rtio_pthread_attr_setaffinity(pthread_attr_t *attr, const rtio_cpu_set *set) {
    return pthread_attr_setaffinity_np(attr, sizeof(cpu_set_t), AS_CONST_CPU_SET(set));
}

int rtio_sched_setaffinity_tid(pid_t tid, const rtio_cpu_set *set) {
    return sched_setaffinity(tid, sizeof(cpu_set_t), AS_CONST_CPU_SET(set)) == 0 ? 0 : -errno;
}

int rtio_sched_getaffinity_tid(pid_t tid, rtio_cpu_set *set) {
    return sched_getaffinity(tid, sizeof(cpu_set_t), AS_CPU_SET(set)) == 0 ? 0 : -errno;
}

int rtio_sched_setattr(pid_t tid, const rtio_sched_attr *attr, unsigned int flags) {
    rtio_sched_attr copy = *attr;
    copy.size = sizeof(copy);
    return syscall(SYS_sched_setattr, tid, &copy, flags) == 0 ? 0 : -errno;
}

int rtio_sched_getattr(pid_t tid, rtio_sched_attr *attr, unsigned int flags) {
    return syscall(SYS_sched_getattr, tid, attr, (unsigned int)sizeof(*attr), flags) == 0 ? 0 : -errno;
}

int rtio_ioprio_set_tid(pid_t tid, int ioprio) {
    /* IOPRIO_WHO_PROCESS (1) with a tid names that one thread; 0 the calling thread. */
    return syscall(SYS_ioprio_set, 1, tid, ioprio) == 0 ? 0 : -errno;
}

int rtio_ioprio_get_tid(pid_t tid) {
    long rc = syscall(SYS_ioprio_get, 1, tid);
    return rc >= 0 ? (int)rc : -errno;
}

int rtio_thread_rusage(struct rusage *usage) {
    return getrusage(RUSAGE_THREAD, usage) == 0 ? 0 : -errno;
}

bool rtio_malloc_keep_heap(void) {
    int a = mallopt(M_MMAP_MAX, 0);
    int b = mallopt(M_TRIM_THRESHOLD, -1);
    return a == 1 && b == 1;
}

int rtio_fallocate(int fd, int mode, int64_t offset, int64_t length) {
    return fallocate(fd, mode, (off_t)offset, (off_t)length) == 0 ? 0 : -errno;
}

// MARK: non-blocking reads

ssize_t rtio_pread_nowait(int fd, void *buf, size_t len, int64_t offset) {
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif
    /* O_DIRECT: RWF_NOWAIT still sends the read to the device and waits for it. */
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -errno;
    if (flags & O_DIRECT) return -EOPNOTSUPP;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    ssize_t n;
    do {
        n = preadv2(fd, &iov, 1, (off_t)offset, RWF_NOWAIT);
    } while (n < 0 && errno == EINTR);
    return n >= 0 ? n : -errno;
}

// MARK: process exit

void rtio_exit_group(int status) {
    for (;;) syscall(SYS_exit_group, status);
}

int rtio_o_direct(void) { return O_DIRECT; }
