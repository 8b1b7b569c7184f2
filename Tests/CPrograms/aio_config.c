/*
 * aio_config.c — a drop-in that failed to start stays failed (no retry per call).
 *   ./aio_config DIR GOOD CONFIG
 * The first aio_read runs with RTIO_AIO_CONFIG=CONFIG unusable; then GOOD is
 * renamed to CONFIG and a second aio_read is made: both must fail with EAGAIN.
 */
#include "aio_common.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 4) DIE("usage");
    char path[4200], buf[8];
    snprintf(path, sizeof path, "%s/config-data", argv[1]);
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    struct aiocb cb = { .aio_fildes = fd, .aio_buf = buf, .aio_nbytes = sizeof buf };
    errno = 0;
    int rc = aio_read(&cb);
    RESULT("first_call", "%d %d", rc, errno);
    if (rename(argv[2], argv[3]) != 0) DIE("rename");
    for (int i = 0; i < 100; i++) {
        errno = 0;
        rc = aio_read(&cb);
        if (rc == 0) break;
    }
    RESULT("later_calls", "%d %d", rc, errno);
    struct aiocb *l[1] = { &cb };
    cb.aio_lio_opcode = LIO_READ;
    errno = 0;
    rc = lio_listio(LIO_WAIT, l, 1, NULL);
    RESULT("lio_listio", "%d %d", rc, errno);
    printf("OK\n");
    return 0;
}
