// CRealtimeIOShims — the few Linux calls and macros Swift cannot reach directly.
//
// Every function is a thin, allocation-free wrapper. Functions return 0 (or a
// non-negative value) on success and -errno on failure unless documented
// otherwise; none of them touch errno's meaning for the caller.
#ifndef CREALTIMEIO_SHIMS_H
#define CREALTIMEIO_SHIMS_H

#include <stdint.h>
#include <stdbool.h>
#include <sched.h>
#include <pthread.h>
#include <time.h>
#include <sys/types.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <sys/resource.h>

// MARK: futex (private, 32-bit word)

/// FUTEX_WAIT_PRIVATE on `word` while it still holds `expected`.
/// `timeout_ns` < 0 waits forever. Returns 0 when woken (or spuriously),
/// -EAGAIN when the word no longer held `expected`, -ETIMEDOUT, -EINTR.
int rtio_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);

/// FUTEX_WAKE_PRIVATE: wakes up to `count` waiters. Returns the number woken or -errno.
int rtio_futex_wake(uint32_t *word, int count);

// MARK: thread identity

pid_t rtio_gettid(void);
/// Names the calling thread (PR_SET_NAME; truncated to 15 bytes). Returns 0 or -errno.
int rtio_set_thread_name(const char *name);
/// Names another thread of this process (pthread_setname_np; truncated to 15 bytes). Returns 0 or -errno.
int rtio_set_thread_name_of(pthread_t thread, const char *name);
/// setpriority(PRIO_PROCESS, tid, nice): the nice value of one thread. Returns 0 or -errno.
int rtio_set_thread_nice(pid_t tid, int nice);
/// getpriority(PRIO_PROCESS, tid). Returns the nice value, or -1000 - errno on failure.
int rtio_get_thread_nice(pid_t tid);
/// The CPU the calling thread is running on, or -errno.
int rtio_sched_getcpu(void);

// MARK: CPU sets
// The layout of glibc's rtio_cpu_set (1024 bits), declared here so that this
// header needs no _GNU_SOURCE (which would make its system types differ from
// Swift's Glibc module).

typedef struct rtio_cpu_set {
    unsigned long bits[1024 / (8 * sizeof(unsigned long))];
} rtio_cpu_set;

void rtio_cpuset_zero(rtio_cpu_set *set);
void rtio_cpuset_add(rtio_cpu_set *set, int cpu);
bool rtio_cpuset_contains(const rtio_cpu_set *set, int cpu);
int rtio_cpuset_count(const rtio_cpu_set *set);
int rtio_cpuset_capacity(void);

/// pthread_attr_setaffinity_np. Returns 0 or a positive pthread error code.
int rtio_pthread_attr_setaffinity(pthread_attr_t *attr, const rtio_cpu_set *set);
/// sched_setaffinity / sched_getaffinity on a thread id (0 = calling thread).
int rtio_sched_setaffinity_tid(pid_t tid, const rtio_cpu_set *set);
int rtio_sched_getaffinity_tid(pid_t tid, rtio_cpu_set *set);

// MARK: sched_setattr / sched_getattr (no glibc wrapper before 2.41)

/// The kernel's `struct sched_attr` (SCHED_ATTR_SIZE_VER0 fields).
typedef struct rtio_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
} rtio_sched_attr;

int rtio_sched_setattr(pid_t tid, const rtio_sched_attr *attr, unsigned int flags);
int rtio_sched_getattr(pid_t tid, rtio_sched_attr *attr, unsigned int flags);

// MARK: file space

/// fallocate(2) (a GNU extension Swift's Glibc module hides). Returns 0 or -errno.
int rtio_fallocate(int fd, int mode, int64_t offset, int64_t length);

// MARK: I/O priority (no glibc wrapper)

/// ioprio_set(IOPRIO_WHO_PROCESS, tid, ioprio): tid 0 is the calling thread;
/// ioprio is (class << 13) | level. Returns 0 or -errno.
int rtio_ioprio_set_tid(pid_t tid, int ioprio);

/// ioprio_get(IOPRIO_WHO_PROCESS, tid): the thread's (class << 13) | level, or -errno.
int rtio_ioprio_get_tid(pid_t tid);

// MARK: resource usage of the calling thread

/// getrusage(RUSAGE_THREAD). Returns 0 or -errno.
int rtio_thread_rusage(struct rusage *usage);

// MARK: process exit

/// exit_group(status): what glibc's _exit and _Exit do, as a raw syscall —
/// async-signal-safe, no symbol lookup (the POSIX AIO drop-in's _exit).
__attribute__((noreturn)) void rtio_exit_group(int status);

// MARK: non-blocking reads

/// preadv2(fd, {buf, len}, 1, offset, RWF_NOWAIT): reads only what the page
/// cache holds, never waiting for the device or a lock. Returns the bytes read
/// (possibly fewer than `len`), or -EAGAIN when the data is not cached,
/// -EOPNOTSUPP when the file system cannot do it — or when `fd` is open with
/// O_DIRECT (checked first with F_GETFL), where RWF_NOWAIT would still issue
/// the device read and wait for it — or another -errno. EINTR is retried.
ssize_t rtio_pread_nowait(int fd, void *buf, size_t len, int64_t offset);

/// The O_DIRECT open flag (Swift's Glibc does not export it: it needs _GNU_SOURCE).
int rtio_o_direct(void);

// MARK: malloc tuning for locked memory

/// mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, -1): keep freed memory
/// in the (locked) heap instead of returning it to the kernel. Returns true on success.
bool rtio_malloc_keep_heap(void);

// MARK: inline helpers for hot loops

/// A spin-wait hint (PAUSE on x86, YIELD on arm64).
static inline void rtio_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// CLOCK_MONOTONIC in nanoseconds (vDSO; no syscall).
static inline uint64_t rtio_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/// CPU time the calling thread has used, in nanoseconds
/// (CLOCK_THREAD_CPUTIME_ID: a system call, not the vDSO); 0 if refused.
static inline uint64_t rtio_thread_cpu_ns(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// MARK: ThreadSanitizer annotations

// Defined only when ThreadSanitizer's runtime is linked (swift build --sanitize=thread);
// weak, so they are NULL in every other build and the calls below do nothing.
void __tsan_acquire(void *addr) __attribute__((weak));
void __tsan_release(void *addr) __attribute__((weak));

/// Tells ThreadSanitizer that the calling thread acquired the synchronisation
/// object at `addr` (a lock it cannot see, e.g. a futex-based mutex). No-op
/// without ThreadSanitizer.
static inline void rtio_tsan_acquire(void *addr) {
    if (__tsan_acquire) __tsan_acquire(addr);
}

/// Tells ThreadSanitizer that the calling thread releases `addr` (pairs with
/// rtio_tsan_acquire on the same address). No-op without ThreadSanitizer.
static inline void rtio_tsan_release(void *addr) {
    if (__tsan_release) __tsan_release(addr);
}

// MARK: io_uring (a worker's own ring)
//
// A minimal io_uring for one thread: no SQPOLL, no IOPOLL, the classic SQ
// index array. Only the thread that created a ring may prepare, submit and
// reap on it. The kernel's headers on older distributions lack the newer
// opcodes; the shim defines the values it uses.

/// One io_uring instance and its three mappings. Plain data; `rtio_ioring_init`
/// fills it, `rtio_ioring_exit` unmaps and closes.
struct rtio_ioring {
    int fd;
    unsigned entries;            ///< SQ entries the kernel granted.
    unsigned sq_mask, cq_mask;
    unsigned *sq_head, *sq_tail, *sq_array, *sq_flags;
    unsigned *cq_head, *cq_tail;
    void *sqes;                  ///< struct io_uring_sqe[entries]
    void *cqes;                  ///< struct io_uring_cqe[cq entries]
    unsigned sqe_tail;           ///< Prepared, not yet published to the kernel.
    unsigned sqe_head;           ///< Published up to here.
    void *sq_map, *cq_map;
    size_t sq_map_len, cq_map_len, sqes_map_len;
};

/// io_uring_setup(entries) and the three mmaps. Fails with -ENOSYS when the
/// kernel has no io_uring, -EPERM when `kernel.io_uring_disabled` or a seccomp
/// filter refuses it, -EOPNOTSUPP when the kernel lacks an opcode the engine
/// uses (READ, WRITE, READV, WRITEV, FSYNC, FALLOCATE, FUTEX_WAIT — Linux 6.7).
/// On failure nothing stays open.
int rtio_ioring_init(struct rtio_ioring *ring, unsigned entries);

/// Unmaps and closes. Requests still in flight are cancelled by the kernel.
void rtio_ioring_exit(struct rtio_ioring *ring);

/// Prepares a read or write: `vectored` false: `buffer` and `length` bytes
/// (IORING_OP_READ/WRITE); true: `buffer` is an iovec array of `length`
/// entries (READV/WRITEV). Returns 0, or -EBUSY when every entry is
/// prepared and not yet submitted.
int rtio_ioring_prep_rw(struct rtio_ioring *ring, bool write, bool vectored, int fd, void *buffer, uint32_t length,
                       uint64_t offset, uint64_t user_data);
/// IORING_OP_FSYNC (`datasync`: IORING_FSYNC_DATASYNC). 0 or -EBUSY.
int rtio_ioring_prep_fsync(struct rtio_ioring *ring, int fd, bool datasync, uint64_t user_data);
/// IORING_OP_FALLOCATE. 0 or -EBUSY.
int rtio_ioring_prep_fallocate(struct rtio_ioring *ring, int fd, int mode, int64_t offset, int64_t length,
                              uint64_t user_data);
/// IORING_OP_FUTEX_WAIT on a private 32-bit futex word while it holds
/// `expected`: completes (res 0) when a FUTEX_WAKE(_PRIVATE) on the word
/// wakes it, or at once with -EAGAIN if the word differs. 0 or -EBUSY.
int rtio_ioring_prep_futex_wait(struct rtio_ioring *ring, uint32_t *word, uint32_t expected, uint64_t user_data);

/// IORING_OP_ASYNC_CANCEL of every request in flight (IORING_ASYNC_CANCEL_ANY,
/// Linux 5.19): each completes with -ECANCELED unless it completes first; a
/// read already at the device completes normally. 0 or -EBUSY.
int rtio_ioring_prep_cancel_all(struct rtio_ioring *ring, uint64_t user_data);

/// Submits what was prepared and, with `wait` > 0, sleeps until at least
/// `wait` completions are ready (io_uring_enter with GETEVENTS). Returns the
/// number submitted, or -errno (-EINTR: a signal; call again).
int rtio_ioring_submit(struct rtio_ioring *ring, unsigned wait);

/// Prepared entries not yet submitted.
unsigned rtio_ioring_unsubmitted(const struct rtio_ioring *ring);

/// Takes the oldest ready completion: returns true and fills `user_data` and
/// `result`, or false when none is ready. No syscall.
bool rtio_ioring_reap(struct rtio_ioring *ring, uint64_t *user_data, int32_t *result);

/// True when a completion is ready (an acquire load of the CQ tail).
bool rtio_ioring_has_completion(const struct rtio_ioring *ring);

#endif
