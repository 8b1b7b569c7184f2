// rtio-bench's io_uring-async / io_uring-sqpoll engines over liburing, behind an opaque handle
// (see CLiburing/shim.h for why liburing's types stay on the C side). Measurement only.
#ifndef RTIO_BENCH_CLIBURING_SHIM_H
#define RTIO_BENCH_CLIBURING_SHIM_H
#include <stdint.h>

typedef struct rtio_uring rtio_uring;

/// Creates a ring with at least `entries` SQEs. `sqpoll_cpu` < 0: no setup flags. Otherwise
/// IORING_SETUP_SQPOLL | IORING_SETUP_SQ_AFF, the kernel polling thread bound to `sqpoll_cpu` and
/// sleeping after `sqpoll_idle_ms` ms without submissions. NULL on failure, with *error = -errno.
rtio_uring *rtio_uring_create(unsigned entries, int sqpoll_cpu, unsigned sqpoll_idle_ms, int *error);
/// Prepares one read (IOSQE_ASYNC when `async`); 0, or -EBUSY when the SQ is full.
int rtio_uring_prep_read(rtio_uring *ring, int fd, void *buf, unsigned len, uint64_t offset,
                         uint64_t tag, int async);
/// io_uring_submit: submitted count or -errno. With SQPOLL no syscall unless the thread sleeps.
int rtio_uring_submit(rtio_uring *ring);
/// One completion: available now (`wait` 0) or after io_uring_wait_cqe (`wait` 1). 1 with
/// *tag/*result filled, 0 when none is ready (non-blocking), or -errno.
int rtio_uring_reap_one(rtio_uring *ring, int wait, uint64_t *tag, int32_t *result);
/// Restricts the ring's io-wq workers to `cpu` (IORING_REGISTER_IOWQ_AFF). 0 or -errno.
int rtio_uring_pin_iowq(rtio_uring *ring, int cpu);
/// io_uring_queue_exit and free.
void rtio_uring_destroy(rtio_uring *ring);
#endif
