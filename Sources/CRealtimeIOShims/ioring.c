// A worker's own io_uring: setup, preparation, submission and reaping without
// liburing. See CRealtimeIOShims.h ("io_uring") for the contract.
#define _GNU_SOURCE 1
#include "CRealtimeIOShims.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/io_uring.h>

// Newer than some distributions' headers (Debian 12 ships 6.1's).
#define RTIO_IORING_OP_FUTEX_WAIT 51
#define RTIO_FUTEX2_SIZE_U32 0x02
#define RTIO_FUTEX2_PRIVATE 128
#define RTIO_FUTEX_BITSET_MATCH_ANY 0xffffffffu

static int uring_setup(unsigned entries, struct io_uring_params *p) {
    long rc = syscall(__NR_io_uring_setup, entries, p);
    return rc < 0 ? -errno : (int)rc;
}

static int uring_register(int fd, unsigned opcode, void *arg, unsigned nr) {
    long rc = syscall(__NR_io_uring_register, fd, opcode, arg, nr);
    return rc < 0 ? -errno : (int)rc;
}

// Every opcode the engine prepares must be supported, or none is used.
static int probe_opcodes(int fd) {
    unsigned char storage[sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op)];
    memset(storage, 0, sizeof storage);
    struct io_uring_probe *probe = (struct io_uring_probe *)storage;
    int rc = uring_register(fd, IORING_REGISTER_PROBE, probe, 256);
    if (rc < 0) return rc;
    static const unsigned needed[] = {
        IORING_OP_READ, IORING_OP_WRITE, IORING_OP_READV, IORING_OP_WRITEV,
        IORING_OP_FSYNC, IORING_OP_FALLOCATE, IORING_OP_ASYNC_CANCEL, RTIO_IORING_OP_FUTEX_WAIT,
    };
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
        unsigned op = needed[i];
        if (op > probe->last_op || !(probe->ops[op].flags & IO_URING_OP_SUPPORTED)) return -EOPNOTSUPP;
    }
    return 0;
}

int rtio_ioring_init(struct rtio_ioring *ring, unsigned entries) {
    memset(ring, 0, sizeof *ring);
    ring->fd = -1;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CLAMP;
    int fd = uring_setup(entries, &p);
    if (fd < 0) return fd;
    int rc = probe_opcodes(fd);
    if (rc < 0) { close(fd); return rc; }

    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
    if (single) { if (cq_len > sq_len) sq_len = cq_len; cq_len = sq_len; }
    void *sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    if (sq == MAP_FAILED) { rc = -errno; close(fd); return rc; }
    void *cq = sq;
    if (!single) {
        cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
        if (cq == MAP_FAILED) { rc = -errno; munmap(sq, sq_len); close(fd); return rc; }
    }
    size_t sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
    void *sqes = mmap(NULL, sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (sqes == MAP_FAILED) {
        rc = -errno;
        if (!single) munmap(cq, cq_len);
        munmap(sq, sq_len);
        close(fd);
        return rc;
    }
    char *s = sq, *c = cq;
    ring->fd = fd;
    ring->entries = p.sq_entries;
    ring->sq_head = (unsigned *)(s + p.sq_off.head);
    ring->sq_tail = (unsigned *)(s + p.sq_off.tail);
    ring->sq_mask = *(unsigned *)(s + p.sq_off.ring_mask);
    ring->sq_array = (unsigned *)(s + p.sq_off.array);
    ring->sq_flags = (unsigned *)(s + p.sq_off.flags);
    ring->cq_head = (unsigned *)(c + p.cq_off.head);
    ring->cq_tail = (unsigned *)(c + p.cq_off.tail);
    ring->cq_mask = *(unsigned *)(c + p.cq_off.ring_mask);
    ring->cqes = c + p.cq_off.cqes;
    ring->sqes = sqes;
    ring->sqe_tail = ring->sqe_head = *ring->sq_tail;
    ring->sq_map = sq;
    ring->cq_map = single ? NULL : cq;
    ring->sq_map_len = sq_len;
    ring->cq_map_len = single ? 0 : cq_len;
    ring->sqes_map_len = sqes_len;
    return 0;
}

void rtio_ioring_exit(struct rtio_ioring *ring) {
    if (ring->fd < 0) return;
    munmap(ring->sqes, ring->sqes_map_len);
    if (ring->cq_map) munmap(ring->cq_map, ring->cq_map_len);
    munmap(ring->sq_map, ring->sq_map_len);
    close(ring->fd);
    ring->fd = -1;
}

// The next free entry, zeroed, or NULL when every entry is prepared or in the
// kernel's hands. The kernel consumes entries during io_uring_enter only (no
// SQPOLL), so its head is read with acquire for the slots it has released.
static struct io_uring_sqe *next_sqe(struct rtio_ioring *ring) {
    unsigned head = __atomic_load_n(ring->sq_head, __ATOMIC_ACQUIRE);
    if (ring->sqe_tail - head >= ring->entries) return NULL;
    unsigned index = ring->sqe_tail & ring->sq_mask;
    struct io_uring_sqe *sqe = (struct io_uring_sqe *)ring->sqes + index;
    memset(sqe, 0, sizeof *sqe);
    ring->sq_array[index] = index;
    ring->sqe_tail++;
    return sqe;
}

int rtio_ioring_prep_rw(struct rtio_ioring *ring, bool write, bool vectored, int fd, void *buffer, uint32_t length,
                       uint64_t offset, uint64_t user_data) {
    struct io_uring_sqe *sqe = next_sqe(ring);
    if (!sqe) return -EBUSY;
    sqe->opcode = vectored ? (write ? IORING_OP_WRITEV : IORING_OP_READV) : (write ? IORING_OP_WRITE : IORING_OP_READ);
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)buffer;
    sqe->len = length;
    sqe->off = offset;
    sqe->user_data = user_data;
    return 0;
}

int rtio_ioring_prep_fsync(struct rtio_ioring *ring, int fd, bool datasync, uint64_t user_data) {
    struct io_uring_sqe *sqe = next_sqe(ring);
    if (!sqe) return -EBUSY;
    sqe->opcode = IORING_OP_FSYNC;
    sqe->fd = fd;
    sqe->fsync_flags = datasync ? IORING_FSYNC_DATASYNC : 0;
    sqe->user_data = user_data;
    return 0;
}

int rtio_ioring_prep_fallocate(struct rtio_ioring *ring, int fd, int mode, int64_t offset, int64_t length,
                              uint64_t user_data) {
    struct io_uring_sqe *sqe = next_sqe(ring);
    if (!sqe) return -EBUSY;
    sqe->opcode = IORING_OP_FALLOCATE;
    sqe->fd = fd;
    sqe->addr = (uint64_t)length;  // the kernel's layout: length in addr, mode in len
    sqe->len = (uint32_t)mode;
    sqe->off = (uint64_t)offset;
    sqe->user_data = user_data;
    return 0;
}

int rtio_ioring_prep_futex_wait(struct rtio_ioring *ring, uint32_t *word, uint32_t expected, uint64_t user_data) {
    struct io_uring_sqe *sqe = next_sqe(ring);
    if (!sqe) return -EBUSY;
    sqe->opcode = RTIO_IORING_OP_FUTEX_WAIT;
    sqe->fd = RTIO_FUTEX2_SIZE_U32 | RTIO_FUTEX2_PRIVATE;  // futex2 flags
    sqe->addr = (uint64_t)(uintptr_t)word;
    sqe->off = expected;
    sqe->addr3 = RTIO_FUTEX_BITSET_MATCH_ANY;  // mask: any FUTEX_WAKE
    sqe->user_data = user_data;
    return 0;
}

int rtio_ioring_prep_cancel_all(struct rtio_ioring *ring, uint64_t user_data) {
    struct io_uring_sqe *sqe = next_sqe(ring);
    if (!sqe) return -EBUSY;
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->fd = -1;
    sqe->cancel_flags = IORING_ASYNC_CANCEL_ANY;
    sqe->user_data = user_data;
    return 0;
}

int rtio_ioring_submit(struct rtio_ioring *ring, unsigned wait) {
    unsigned pending = ring->sqe_tail - ring->sqe_head;
    // Publish the prepared entries; pairs with the kernel's acquire of the tail.
    __atomic_store_n(ring->sq_tail, ring->sqe_tail, __ATOMIC_RELEASE);
    unsigned flags = wait > 0 ? IORING_ENTER_GETEVENTS : 0;
    if (pending == 0 && wait == 0) return 0;
    long rc = syscall(__NR_io_uring_enter, ring->fd, pending, wait, flags, NULL, 0);
    if (rc < 0) return -errno;
    ring->sqe_head += (unsigned)rc;
    return (int)rc;
}

unsigned rtio_ioring_unsubmitted(const struct rtio_ioring *ring) { return ring->sqe_tail - ring->sqe_head; }

bool rtio_ioring_reap(struct rtio_ioring *ring, uint64_t *user_data, int32_t *result) {
    unsigned head = *ring->cq_head;  // only this thread writes it
    // Acquire: the entry's contents are visible once the tail covers it.
    if (head == __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE)) return false;
    const struct io_uring_cqe *cqe = (const struct io_uring_cqe *)ring->cqes + (head & ring->cq_mask);
    *user_data = cqe->user_data;
    *result = cqe->res;
    // Release: the kernel may reuse the entry only after it was read.
    __atomic_store_n(ring->cq_head, head + 1, __ATOMIC_RELEASE);
    return true;
}

bool rtio_ioring_has_completion(const struct rtio_ioring *ring) {
    return *ring->cq_head != __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE);
}
