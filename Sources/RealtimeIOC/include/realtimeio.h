/*
 * realtimeio.h — C ABI of RealtimeIO (librealtimeio.so)
 *
 * A preallocated, real-time I/O engine: worker threads born with their CPUs
 * and scheduling run blocking file I/O (pread, pwrite, preadv, pwritev, fsync,
 * fdatasync, fallocate) for the host; completions are collected through one
 * eventfd and rtio_reap(3).
 *
 * Link with -lrealtimeio. The library is written in Swift; it needs the Swift
 * runtime libraries (libswiftCore.so, …) at run time: either on the loader
 * path or found through the library's RUNPATH.
 *
 * Conventions, for every function below:
 *   - Functions returning int return 0 (or a count) on success and a negative
 *     errno value on failure. errno itself is not set.
 *   - No function allocates or blocks on the submit/reap path:
 *     rtio_submit_*(3), rtio_reap(3) and rtio_completion_fd(3) take no lock,
 *     allocate nothing and make a syscall only to wake a parked worker (submit)
 *     or to re-arm the eventfd (reap).
 *   - Buffers, and iovec arrays of more than RTIO_INLINE_IOVECS entries, must
 *     stay valid and untouched until the request's completion has been reaped.
 *   - Every accepted request (submit returned 0) completes exactly once, also
 *     when the engine is shut down (with -ECANCELED under RTIO_SHUTDOWN_CANCEL).
 *   - A request refused at submit (negative return) was not enqueued and never
 *     completes.
 */
#ifndef REALTIMEIO_H
#define REALTIMEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An engine. Opaque; created by rtio_engine_create, freed by rtio_engine_destroy. */
typedef struct rtio_engine rtio_engine;

/* One finished request. */
/* rtio_completion.worker of a request run by an on-demand worker. */
#define RTIO_ON_DEMAND_WORKER 0xFFFFFFFFu

struct rtio_completion {
    uint64_t tag;     /* the tag given at submit */
    int64_t  result;  /* bytes transferred (0 for fsync/fdatasync/fallocate), or -errno */
    uint32_t worker;  /* index of the preallocated worker that ran it (or would have),
                         or RTIO_ON_DEMAND_WORKER for an on-demand worker */
    uint32_t reserved;/* 0 */
};

/* One worker thread, as the kernel and its counters see it now. */
struct rtio_worker_info {
    uint32_t index;          /* engine-wide worker index */
    int32_t  tid;            /* kernel thread id (for chrt, taskset, /proc) */
    char     name[16];       /* thread name "rtio-<group>-<n>", NUL-terminated */
    char     group[64];      /* group name, NUL-terminated (truncated if longer) */
    int32_t  cpu;            /* CPU the thread last ran on, or -1 if unknown */
    int32_t  policy;         /* applied policy: SCHED_OTHER (0), SCHED_FIFO (1), SCHED_RR (2); -1 if unknown */
    int32_t  priority;       /* applied real-time priority (1..99) for FIFO/RR, else 0 */
    int32_t  nice;           /* applied nice value for SCHED_OTHER, else 0 */
    uint64_t submitted;      /* requests routed to this worker (completed + queued) */
    uint64_t completed;      /* requests this worker finished (including errors and cancellations) */
    uint64_t errors;         /* completions with a negative result */
    uint64_t cancelled;      /* completions with -ECANCELED */
    uint64_t queue_depth;    /* requests queued now */
    uint64_t max_queue_depth;/* highest queue depth seen */
    uint64_t parks;          /* times the worker parked (slept) */
    uint64_t busy_ns;        /* nanoseconds spent running requests */
    int64_t  minor_faults;   /* page faults of the thread, -1 if unknown */
    int64_t  major_faults;
};


/* The layouts are part of the ABI. */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__cplusplus)
_Static_assert(sizeof(struct rtio_completion) == 24, "rtio_completion layout");
_Static_assert(offsetof(struct rtio_completion, result) == 8, "rtio_completion layout");
_Static_assert(offsetof(struct rtio_completion, worker) == 16, "rtio_completion layout");
_Static_assert(sizeof(struct rtio_worker_info) == 184, "rtio_worker_info layout");
_Static_assert(offsetof(struct rtio_worker_info, cpu) == 88, "rtio_worker_info layout");
_Static_assert(offsetof(struct rtio_worker_info, submitted) == 104, "rtio_worker_info layout");
_Static_assert(offsetof(struct rtio_worker_info, major_faults) == 176, "rtio_worker_info layout");
#endif

/* iovec arrays of at most this many entries are copied at submit. */
#define RTIO_INLINE_IOVECS 4
/* Most iovecs one readv/writev request may carry (IOV_MAX). */
#define RTIO_MAX_IOVECS 1024

/* rtio_engine_shutdown modes. */
#define RTIO_SHUTDOWN_DRAIN  0 /* run every queued request, then stop */
#define RTIO_SHUTDOWN_CANCEL 1 /* complete queued (not yet running) requests with -ECANCELED */

/*
 * rtio_engine_create — start an engine from a JSON configuration
 *
 * SYNOPSIS
 *   int rtio_engine_create(const char *json_config, rtio_engine **out,
 *                          char *errbuf, size_t errlen);
 *
 * DESCRIPTION
 *   Parses json_config (the EngineConfiguration layout also used by
 *   `rtio-admin plan`), e.g.
 *     {"groups":[{"name":"io","workers":2,"cpus":"1","scheduling":{"fifo":40}}],
 *      "ringCapacity":256,"requestsInFlight":1024,"memoryLocking":"none",
 *      "privilegePolicy":"bestEffort","spinBudgetNanoseconds":50000}
 *   validates it, creates every worker, ring and request slot and the
 *   completion eventfd, and returns when every worker runs. On success *out
 *   receives the engine.
 *
 *   errbuf (may be NULL when errlen is 0) receives a NUL-terminated message,
 *   truncated to errlen - 1 bytes: on failure, what went wrong, naming the bad
 *   field or missing privilege and the remedy; on success, the degradations
 *   applied under "privilegePolicy":"bestEffort" (one per line), or "" if
 *   everything was applied as requested.
 *
 *   "completionDelivery":"workerHandler" is not available through this ABI.
 *
 *   A group's "inFlight" (1...4096, default 1) is how many requests each of
 *   its workers keeps in the kernel at once through its own io_uring (device
 *   reads at depth; requests on one worker may then complete out of order).
 *   Where io_uring is refused (seccomp, kernel.io_uring_disabled) or older
 *   than Linux 6.7, "bestEffort" runs one at a time and says so in errbuf;
 *   "required" fails with -EPERM.
 *
 *   CPU placement: every worker is born with its mask, independent of the
 *   calling thread's. A group with "cpus" (or "workerCPUs") gets those; a
 *   group without is born with the process's allowed CPUs: the cpuset
 *   cgroup's effective CPUs (v2 cpuset.cpus.effective, v1
 *   cpuset.effective_cpus) intersected with the online CPUs, less the CPUs
 *   isolated by isolcpus= unless that leaves none; the online CPUs when no
 *   cpuset is readable. A configured CPU outside the cpuset ∩ online set is
 *   refused with -EINVAL, errbuf naming the cpuset file and the allowed list.
 *   The "spawnerThread" of on-demand mode is born with the same mask; with
 *   "hostLoop", on-demand workers inherit the mask of the thread calling
 *   rtio_reap (see rtio_reap(3)).
 *
 * RETURN VALUE
 *   0 on success; a negative errno value on failure (*out is then NULL).
 *
 * ERRORS
 *   -EINVAL   json_config or out is NULL, the JSON is malformed, or a field is
 *             invalid (also: a CPU outside the process's cpuset or not online).
 *   -EPERM    "privilegePolicy":"required" and a requested scheduling policy,
 *             CPU set or memory lock is not permitted.
 *   -EAGAIN   a worker thread could not be created.
 *   -EMFILE   the eventfd could not be created (other eventfd errors as returned).
 *   -ETIMEDOUT a worker did not start within 10 s.
 *
 * THREAD SAFETY
 *   MT-Safe.
 */
int rtio_engine_create(const char *json_config, rtio_engine **out, char *errbuf, size_t errlen);

/*
 * rtio_submit_read, rtio_submit_write, rtio_submit_readv, rtio_submit_writev,
 * rtio_submit_fsync, rtio_submit_fdatasync, rtio_submit_fallocate
 *   — queue one request
 *
 * SYNOPSIS
 *   int rtio_submit_read(rtio_engine *e, int fd, void *buf, size_t len, int64_t offset, uint64_t tag);
 *   int rtio_submit_write(rtio_engine *e, int fd, const void *buf, size_t len, int64_t offset, uint64_t tag);
 *   int rtio_submit_readv(rtio_engine *e, int fd, const struct iovec *iov, int iovcnt, int64_t offset, uint64_t tag);
 *   int rtio_submit_writev(rtio_engine *e, int fd, const struct iovec *iov, int iovcnt, int64_t offset, uint64_t tag);
 *   int rtio_submit_fsync(rtio_engine *e, int fd, uint64_t tag);
 *   int rtio_submit_fdatasync(rtio_engine *e, int fd, uint64_t tag);
 *   int rtio_submit_fallocate(rtio_engine *e, int fd, int mode, int64_t offset, int64_t len, uint64_t tag);
 *
 * DESCRIPTION
 *   Queues the operation on the least-loaded worker. Its completion carries
 *   tag. read runs pread(2) and continues after short reads until len bytes
 *   or end of file; write runs pwrite(2) until all len bytes are written;
 *   readv/writev run preadv(2)/pwritev(2). Iovec arrays of at most
 *   RTIO_INLINE_IOVECS entries are copied (the array may be temporary);
 *   longer arrays are read by the worker and must stay valid until the
 *   completion is reaped. fallocate takes fallocate(2) mode flags; supported
 *   are 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE and
 *   FALLOC_FL_ZERO_RANGE.
 *
 *   The file descriptor is not checked at submit: a bad descriptor completes
 *   with -EBADF, and every other I/O error arrives as the completion's result.
 *
 * RETURN VALUE
 *   0 if queued; a negative errno value if refused (nothing was queued).
 *
 * ERRORS
 *   -EAGAIN     no request slot is free or the worker's ring is full: reap, then retry.
 *   -EINVAL     e is NULL; negative offset or length, or offset + length past INT64_MAX;
 *               len > INT64_MAX; an iov_len above SSIZE_MAX, or iov_len values whose
 *               sum exceeds INT64_MAX; iovcnt < 0 or > RTIO_MAX_IOVECS; iov NULL with
 *               iovcnt > 0; buf NULL with len > 0; unsupported fallocate mode.
 *   -EFAULT     an iovec with iov_base NULL and iov_len > 0.
 *   -ESHUTDOWN  rtio_engine_shutdown was called.
 *
 * THREAD SAFETY
 *   MT-Safe: any number of threads may submit at once. With preallocated
 *   workers only (no "onDemand" in the configuration) lock-free and
 *   allocation-free, async-signal-safe in practice (no locks, no malloc).
 *   In on-demand and hybrid modes a request that goes to an on-demand
 *   worker takes a priority-inheriting mutex.
 */
int rtio_submit_read(rtio_engine *e, int fd, void *buf, size_t len, int64_t offset, uint64_t tag);
int rtio_submit_write(rtio_engine *e, int fd, const void *buf, size_t len, int64_t offset, uint64_t tag);
int rtio_submit_readv(rtio_engine *e, int fd, const struct iovec *iov, int iovcnt, int64_t offset, uint64_t tag);
int rtio_submit_writev(rtio_engine *e, int fd, const struct iovec *iov, int iovcnt, int64_t offset, uint64_t tag);
int rtio_submit_fsync(rtio_engine *e, int fd, uint64_t tag);
int rtio_submit_fdatasync(rtio_engine *e, int fd, uint64_t tag);
int rtio_submit_fallocate(rtio_engine *e, int fd, int mode, int64_t offset, int64_t len, uint64_t tag);

/* rtio_request.opcode values. */
#define RTIO_OP_READ      0
#define RTIO_OP_WRITE     1
#define RTIO_OP_READV     2
#define RTIO_OP_WRITEV    3
#define RTIO_OP_FSYNC     4
#define RTIO_OP_FDATASYNC 5
#define RTIO_OP_FALLOCATE 6

/* One request of a batch for rtio_submit_batch(3). Zero it, then set what the opcode uses. */
struct rtio_request {
    uint32_t opcode;   /* RTIO_OP_* */
    int32_t  fd;
    int64_t  offset;   /* file offset (read, write, readv, writev, fallocate) */
    void    *buf;      /* buffer (read, write) or struct iovec array (readv, writev) */
    uint64_t len;      /* bytes (read, write), iovec count (readv, writev), length (fallocate) */
    uint64_t tag;      /* returned in rtio_completion.tag */
    int32_t  mode;     /* fallocate mode flags, as for rtio_submit_fallocate(3) */
    uint32_t reserved; /* must be 0 */
};

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__cplusplus)
_Static_assert(sizeof(struct rtio_request) == 48, "rtio_request layout");
_Static_assert(offsetof(struct rtio_request, buf) == 16, "rtio_request layout");
_Static_assert(offsetof(struct rtio_request, tag) == 32, "rtio_request layout");
_Static_assert(offsetof(struct rtio_request, reserved) == 44, "rtio_request layout");
#endif

/*
 * rtio_submit_batch — queue many requests at once, all or none
 *
 * SYNOPSIS
 *   int rtio_submit_batch(rtio_engine *e, const struct rtio_request *reqs,
 *                         unsigned n, unsigned *failed_index);
 *
 * DESCRIPTION
 *   Queues reqs[0..n-1] on one worker (the least-loaded one) with one claim
 *   of n consecutive cells of its ring; they run in array order. Each
 *   request means what the matching rtio_submit_*(3) call means, and its
 *   completion carries its tag. In hybrid mode a batch that does not fit
 *   its worker's ring runs on on-demand workers, as a whole.
 *
 *   All or nothing: every request is checked before anything is queued,
 *   then n request slots and the n ring cells are taken; if any of that
 *   fails, nothing was queued and no request of the batch will complete.
 *   On success every request was queued and completes exactly once.
 *
 *   failed_index (may be NULL) receives the index of the request that was
 *   refused for what it contains (-EINVAL, -EFAULT), and n otherwise.
 *
 *   The array itself may be reused as soon as the call returns; buffers and
 *   iovec arrays of more than RTIO_INLINE_IOVECS entries must stay valid
 *   until each request's completion is reaped, as with rtio_submit_*(3).
 *   An n of 0 queues nothing and returns 0.
 *
 * RETURN VALUE
 *   0 if all n requests were queued; a negative errno value if the batch was
 *   refused (nothing was queued).
 *
 * ERRORS
 *   -EAGAIN     fewer than n request slots are free, or the worker's ring has
 *               fewer than n free cells: reap, then retry (or split the batch).
 *   -EINVAL     e is NULL; reqs is NULL with n > 0; n is larger than the
 *               ring capacity or "requestsInFlight" (no batch that large can
 *               ever be queued); and, naming the request in *failed_index,
 *               an unknown opcode, a reserved field not 0, or any EINVAL of
 *               rtio_submit_*(3) (bad range, buf NULL with len > 0, more
 *               than RTIO_MAX_IOVECS iovecs, unsupported fallocate mode).
 *   -EFAULT     an iovec with iov_base NULL and iov_len > 0 (*failed_index names the request).
 *   -ESHUTDOWN  rtio_engine_shutdown was called.
 *
 * THREAD SAFETY
 *   MT-Safe, like rtio_submit_*(3): lock-free and allocation-free with
 *   preallocated workers only; per batch one placement, one ring claim and
 *   at most one worker wake-up.
 */
int rtio_submit_batch(rtio_engine *e, const struct rtio_request *reqs, unsigned n, unsigned *failed_index);

/*
 * A request handle, for rtio_cancel(3): returned by the rtio_submit_*_h
 * functions. 0 is never a valid handle. A handle stays harmless after its
 * request finished: the request slot's next request has another handle.
 */
typedef uint64_t rtio_handle_t;

/* rtio_cancel results (the values of AIO_CANCELED, AIO_NOTCANCELED, AIO_ALLDONE). */
#define RTIO_CANCELED    0 /* withdrawn: never runs; its -ECANCELED completion is posted */
#define RTIO_NOTCANCELED 1 /* running: completes normally */
#define RTIO_ALLDONE     2 /* finished, already cancelled, or a stale handle */

/*
 * rtio_submit_read_h, rtio_submit_write_h, rtio_submit_readv_h,
 * rtio_submit_writev_h, rtio_submit_fsync_h, rtio_submit_fdatasync_h,
 * rtio_submit_fallocate_h — queue one request and return its handle
 *
 * SYNOPSIS
 *   int rtio_submit_read_h(rtio_engine *e, int fd, void *buf, size_t len, int64_t offset, uint64_t tag, rtio_handle_t *out);
 *   int rtio_submit_write_h(rtio_engine *e, int fd, const void *buf, size_t len, int64_t offset, uint64_t tag, rtio_handle_t *out);
 *   int rtio_submit_readv_h(rtio_engine *e, int fd, const struct iovec *iov, int iovcnt, int64_t offset, uint64_t tag, rtio_handle_t *out);
 *   int rtio_submit_writev_h(rtio_engine *e, int fd, const struct iovec *iov, int iovcnt, int64_t offset, uint64_t tag, rtio_handle_t *out);
 *   int rtio_submit_fsync_h(rtio_engine *e, int fd, uint64_t tag, rtio_handle_t *out);
 *   int rtio_submit_fdatasync_h(rtio_engine *e, int fd, uint64_t tag, rtio_handle_t *out);
 *   int rtio_submit_fallocate_h(rtio_engine *e, int fd, int mode, int64_t offset, int64_t len, uint64_t tag, rtio_handle_t *out);
 *
 * DESCRIPTION
 *   As the rtio_submit_* function of the same name without _h, and on
 *   success stores the request's handle in *out (on failure *out is 0).
 *   Costs what those cost: no lock, no allocation.
 *
 * RETURN VALUE, ERRORS, THREAD SAFETY
 *   As rtio_submit_read(3) and friends; -EINVAL also when out is NULL.
 */
int rtio_submit_read_h(rtio_engine *e, int fd, void *buf, size_t len, int64_t offset, uint64_t tag, rtio_handle_t *out);
int rtio_submit_write_h(rtio_engine *e, int fd, const void *buf, size_t len, int64_t offset, uint64_t tag, rtio_handle_t *out);
int rtio_submit_readv_h(rtio_engine *e, int fd, const struct iovec *iov, int iovcnt, int64_t offset, uint64_t tag, rtio_handle_t *out);
int rtio_submit_writev_h(rtio_engine *e, int fd, const struct iovec *iov, int iovcnt, int64_t offset, uint64_t tag, rtio_handle_t *out);
int rtio_submit_fsync_h(rtio_engine *e, int fd, uint64_t tag, rtio_handle_t *out);
int rtio_submit_fdatasync_h(rtio_engine *e, int fd, uint64_t tag, rtio_handle_t *out);
int rtio_submit_fallocate_h(rtio_engine *e, int fd, int mode, int64_t offset, int64_t len, uint64_t tag, rtio_handle_t *out);

/*
 * rtio_submit_batch_h — queue many requests at once and return their handles
 *
 * SYNOPSIS
 *   int rtio_submit_batch_h(rtio_engine *e, const struct rtio_request *reqs,
 *                           unsigned n, rtio_handle_t *handles, unsigned *failed_index);
 *
 * DESCRIPTION
 *   As rtio_submit_batch(3), and on success handles[i] is the handle of
 *   reqs[i], for rtio_cancel(3). handles must have room for n handles; on
 *   failure every one of them is 0.
 *
 * RETURN VALUE, ERRORS, THREAD SAFETY
 *   As rtio_submit_batch(3); -EINVAL also when handles is NULL with n > 0.
 */
int rtio_submit_batch_h(rtio_engine *e, const struct rtio_request *reqs, unsigned n,
                        rtio_handle_t *handles, unsigned *failed_index);

/*
 * rtio_cancel — withdraw a queued request
 *
 * SYNOPSIS
 *   int rtio_cancel(rtio_engine *e, rtio_handle_t h);
 *
 * DESCRIPTION
 *   Cancels the request h names if no worker has started it. A cancelled
 *   request never runs; its completion (result -ECANCELED, the tag given at
 *   submit, worker the one it was queued on or RTIO_ON_DEMAND_WORKER) is
 *   posted before rtio_cancel returns and rtio_completion_fd(3) notified,
 *   however long the worker it was queued on stays busy: collect it with
 *   rtio_reap(3) like any other, exactly once. Its request slot is free
 *   again once that completion is reaped and the worker has skipped its
 *   queue entry (so cancelled requests queued behind a stuck worker hold
 *   their slots until it moves on). A request already running is not
 *   interrupted and completes normally.
 *
 * RETURN VALUE
 *   RTIO_CANCELED     it was queued and is withdrawn.
 *   RTIO_NOTCANCELED  a worker is running it.
 *   RTIO_ALLDONE      it finished (completion reaped or not), was cancelled
 *                     before, or h is stale (its slot carries a later request).
 *   A negative errno value on error.
 *
 * ERRORS
 *   -EINVAL  e is NULL, h is 0, or h names a slot this engine does not have
 *            (a handle of another engine, or not a handle).
 *
 * THREAD SAFETY
 *   MT-Safe, lock-free (one compare-exchange on the slot's state word, then a
 *   lock-free post and at most one eventfd write), allocation-free.
 */
int rtio_cancel(rtio_engine *e, rtio_handle_t h);

/* rtio_serve_here results. */
#define RTIO_SERVED    0 /* ran on the calling thread; its completion is posted */
#define RTIO_NOTSERVED 1 /* a worker is running it: completes normally */
/*      RTIO_ALLDONE   2    finished, cancelled or served before, or a stale handle */

/*
 * rtio_serve_here — run a queued request on the calling thread
 *
 * SYNOPSIS
 *   int rtio_serve_here(rtio_engine *e, rtio_handle_t h);
 *
 * DESCRIPTION
 *   If no worker has taken the request h names, withdraws it from its
 *   worker as rtio_cancel(3) does and runs it on the calling thread, with
 *   the code a worker runs (blocking system calls, short transfers
 *   continued, EINTR retried). Its completion carries the real result, the
 *   tag given at submit and worker RTIO_ON_DEMAND_WORKER (no worker ran
 *   it); it is posted before rtio_serve_here returns and
 *   rtio_completion_fd(3) notified: collect it with rtio_reap(3), exactly
 *   once. Its request slot is free again once that completion is reaped
 *   and the worker has skipped its queue entry.
 *
 *   For a host that waits for a request and finds it still queued because
 *   its worker is off its CPU: resting past its real-time share (see
 *   rtio_worker_rests(3)), or taken by an interrupt, a higher-priority
 *   thread or the hypervisor. The calling thread makes the request's
 *   system calls: use it for requests that cannot block for long
 *   (page-cached reads), or where the thread would wait anyway.
 *
 * RETURN VALUE
 *   RTIO_SERVED     it was queued and ran here.
 *   RTIO_NOTSERVED  a worker is running it.
 *   RTIO_ALLDONE    it finished, was cancelled or served before, or h is stale.
 *   A negative errno value on error.
 *
 * ERRORS
 *   -EINVAL  e is NULL, h is 0, or h names a slot this engine does not have.
 *
 * THREAD SAFETY
 *   MT-Safe, lock-free and allocation-free: one compare-exchange on the
 *   slot's state word, the request's own system calls, then a lock-free
 *   post and at most one eventfd write.
 */
int rtio_serve_here(rtio_engine *e, rtio_handle_t h);

/*
 * rtio_worker_rests — whether a worker sleeps in a timed rest
 *
 * SYNOPSIS
 *   int rtio_worker_rests(rtio_engine *e, unsigned worker);
 *
 * DESCRIPTION
 *   1 while preallocated worker `worker` (0-based, in configuration order)
 *   sleeps in a timed rest past its real-time share (realtimeShareRest
 *   "slices"): a request queued on it now waits for the end of the current
 *   slice, so a waiting host may rtio_serve_here(3) it at once. 0 otherwise.
 *
 * RETURN VALUE
 *   1 or 0; -EINVAL if e is NULL or worker is out of range.
 *
 * THREAD SAFETY
 *   MT-Safe: one relaxed load, no system call.
 */
int rtio_worker_rests(rtio_engine *e, unsigned worker);

/*
 * rtio_completion_fd — the descriptor to poll for completions
 *
 * SYNOPSIS
 *   int rtio_completion_fd(rtio_engine *e);
 *
 * DESCRIPTION
 *   Returns a non-blocking eventfd owned by the engine. It becomes readable
 *   (POLLIN) when completions are ready; notifications are coalesced, so
 *   after it polls readable call rtio_reap(3) until it returns 0 — that call
 *   also re-arms the descriptor. Do not read(2) or close(2) it yourself.
 *   rtio_engine_shutdown(3) makes it readable one last time; it then stays
 *   open (and readable) until rtio_engine_destroy(3) closes it, so a thread
 *   still in poll(2) or rtio_reap(3) never touches a closed or recycled
 *   descriptor. Remove it from any epoll set before destroying the engine.
 *
 * RETURN VALUE
 *   The descriptor (>= 0), or a negative errno value.
 *
 * ERRORS
 *   -EINVAL     e is NULL.
 *   -ESHUTDOWN  the engine was shut down (the descriptor stays open until
 *               rtio_engine_destroy(3)).
 *
 * THREAD SAFETY
 *   MT-Safe.
 */
int rtio_completion_fd(rtio_engine *e);

/*
 * rtio_reap — collect completions
 *
 * SYNOPSIS
 *   int rtio_reap(rtio_engine *e, struct rtio_completion *out, unsigned max);
 *
 * DESCRIPTION
 *   Copies up to max finished requests into out[0..] and frees their request
 *   slots (their buffers may then be reused). When none are ready it re-arms
 *   the completion eventfd and checks once more, so a host that sleeps in
 *   poll(2) on rtio_completion_fd(3) never misses a completion. Completions
 *   of one worker arrive in the order that worker finished them. Completions
 *   remain reapable after rtio_engine_shutdown(3).
 *
 * RETURN VALUE
 *   The number of completions stored (0..max), or a negative errno value.
 *
 * ERRORS
 *   -EINVAL  e is NULL, or out is NULL with max > 0.
 *
 * THREAD SAFETY
 *   MT-Safe, but one reaper at a time: a call made while another thread is
 *   inside rtio_reap returns 0 at once. With preallocated workers only,
 *   lock-free and allocation-free. In on-demand and hybrid modes it also
 *   takes a priority-inheriting mutex to collect on-demand completions, and
 *   with the "hostLoop" spawner it may create an on-demand worker (on the
 *   calling thread, whose CPUs and scheduling that worker inherits).
 */
int rtio_reap(rtio_engine *e, struct rtio_completion *out, unsigned max);

/*
 * rtio_worker_count, rtio_worker_info — inspect the workers
 *
 * SYNOPSIS
 *   int rtio_worker_count(rtio_engine *e);
 *   int rtio_worker_info(rtio_engine *e, unsigned index, struct rtio_worker_info *out);
 *
 * DESCRIPTION
 *   rtio_worker_count returns the number of preallocated worker threads (0 in
 *   on-demand mode, where workers come and go). rtio_worker_info
 *   fills *out for worker index: thread id and name, the scheduling and CPU
 *   read back from the kernel (live changes by chrt/taskset/rtio-admin show),
 *   and the worker's counters.
 *
 * RETURN VALUE
 *   rtio_worker_count: the count (>= 0), or -EINVAL if e is NULL.
 *   rtio_worker_info: 0, or a negative errno value.
 *
 * ERRORS
 *   -EINVAL  e or out is NULL, or index >= rtio_worker_count(e).
 *
 * THREAD SAFETY
 *   MT-Safe. rtio_worker_info reads /proc and allocates: not for the I/O path.
 */
int rtio_worker_count(rtio_engine *e);
int rtio_worker_info(rtio_engine *e, unsigned index, struct rtio_worker_info *out);

/*
 * rtio_engine_shutdown — stop an engine
 *
 * SYNOPSIS
 *   int rtio_engine_shutdown(rtio_engine *e, int mode);
 *
 * DESCRIPTION
 *   Refuses new submits (-ESHUTDOWN), then with RTIO_SHUTDOWN_DRAIN runs
 *   every queued request, or with RTIO_SHUTDOWN_CANCEL completes every
 *   queued, not yet running request with -ECANCELED; joins the workers and
 *   makes the completion eventfd readable one last time (it stays open until
 *   rtio_engine_destroy(3)). Returns when all workers have exited — also a
 *   call that finds another shutdown in progress, which waits for it (its
 *   mode is then ignored). It sleeps, never spins: called from a SCHED_FIFO
 *   thread it lets a lower-priority submitter preempted on the same CPU
 *   leave the submit path. Completions not yet reaped stay reapable with
 *   rtio_reap(3). Idempotent.
 *
 * RETURN VALUE
 *   0, or a negative errno value.
 *
 * ERRORS
 *   -EINVAL  e is NULL or mode is not RTIO_SHUTDOWN_DRAIN / RTIO_SHUTDOWN_CANCEL.
 *
 * THREAD SAFETY
 *   MT-Safe. Blocks until the workers exit; may be called while other
 *   threads submit (they get -ESHUTDOWN) or reap.
 */
int rtio_engine_shutdown(rtio_engine *e, int mode);

/*
 * rtio_engine_destroy — free an engine
 *
 * SYNOPSIS
 *   void rtio_engine_destroy(rtio_engine *e);
 *
 * DESCRIPTION
 *   Shuts the engine down with RTIO_SHUTDOWN_DRAIN if that has not happened,
 *   then closes the completion eventfd and frees it; unreaped completions
 *   are discarded. e must not be used afterwards. NULL is ignored.
 *
 * THREAD SAFETY
 *   MT-Unsafe with respect to e: no other thread may use e during or after
 *   the call.
 */
void rtio_engine_destroy(rtio_engine *e);

#ifdef __cplusplus
}
#endif

#endif /* REALTIMEIO_H */
