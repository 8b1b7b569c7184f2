#define _GNU_SOURCE
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include "CLiburingShim.h"

struct rtio_uring { struct io_uring ring; };

rtio_uring *rtio_uring_create(unsigned entries, int sqpoll_cpu, unsigned sqpoll_idle_ms, int *error) {
    rtio_uring *r = calloc(1, sizeof *r);
    if (!r) { *error = -ENOMEM; return NULL; }
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    if (sqpoll_cpu >= 0) {
        p.flags = IORING_SETUP_SQPOLL | IORING_SETUP_SQ_AFF;
        p.sq_thread_cpu = (unsigned)sqpoll_cpu;
        p.sq_thread_idle = sqpoll_idle_ms;
    }
    int rc = io_uring_queue_init_params(entries, &r->ring, &p);
    if (rc < 0) { free(r); *error = rc; return NULL; }
    *error = 0;
    return r;
}

int rtio_uring_prep_read(rtio_uring *r, int fd, void *buf, unsigned len, uint64_t offset,
                         uint64_t tag, int async) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) return -EBUSY;
    io_uring_prep_read(sqe, fd, buf, len, offset);
    io_uring_sqe_set_data64(sqe, tag);
    if (async) sqe->flags |= IOSQE_ASYNC;
    return 0;
}

int rtio_uring_submit(rtio_uring *r) { return io_uring_submit(&r->ring); }

int rtio_uring_reap_one(rtio_uring *r, int wait, uint64_t *tag, int32_t *result) {
    struct io_uring_cqe *cqe = NULL;
    int rc = wait ? io_uring_wait_cqe(&r->ring, &cqe) : io_uring_peek_cqe(&r->ring, &cqe);
    if (rc == -EAGAIN || (rc == 0 && !cqe)) return 0;
    if (rc < 0) return rc;
    *tag = io_uring_cqe_get_data64(cqe);
    *result = cqe->res;
    io_uring_cqe_seen(&r->ring, cqe);
    return 1;
}

int rtio_uring_pin_iowq(rtio_uring *r, int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return io_uring_register_iowq_aff(&r->ring, sizeof set, &set);
}

void rtio_uring_destroy(rtio_uring *r) {
    if (!r) return;
    io_uring_queue_exit(&r->ring);
    free(r);
}
