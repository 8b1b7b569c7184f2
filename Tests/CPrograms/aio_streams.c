/*
 * aio_streams.c — AIO on descriptors that cannot seek: a pipe, a socket pair,
 * a FIFO. Requests on one stream run in submission order; a read blocked on
 * a stream holds back neither the stream's other end nor a file.
 *   ./aio_streams DIR
 */
#include "aio_common.h"
#include <sys/socket.h>
#include <sys/stat.h>

enum { CHUNK = 16, READS = 64 };

/* READS aio_reads of CHUNK bytes queued on `rfd` before any data exists; then
 * the data is written in one go. Read i must get bytes [i*CHUNK, (i+1)*CHUNK). */
static void ordered_reads(const char *name, int rfd, int wfd) {
    static char in[READS][CHUNK], out[READS * CHUNK];
    static struct aiocb cb[READS];
    for (int i = 0; i < READS * CHUNK; i++) out[i] = (char)(i / CHUNK + 1);
    for (int i = 0; i < READS; i++) {
        memset(in[i], 0, CHUNK);
        cb[i] = (struct aiocb){ .aio_fildes = rfd, .aio_buf = in[i], .aio_nbytes = CHUNK, .aio_offset = 12345 };
        if (aio_read(&cb[i]) != 0) DIE("%s aio_read", name);
    }
    /* The data goes in with aio_write too (one request, positioned offset ignored on a stream). */
    struct aiocb w = { .aio_fildes = wfd, .aio_buf = out, .aio_nbytes = sizeof out, .aio_offset = 777 };
    if (aio_write(&w) != 0) DIE("%s aio_write", name);
    ssize_t wrote = aio_finish(&w);
    int bytes = 0, in_order = 1;
    for (int i = 0; i < READS; i++) {
        ssize_t n = aio_finish(&cb[i]);
        if (n > 0) bytes += (int)n;
        if (n != CHUNK) in_order = 0;
        for (int k = 0; k < CHUNK && in_order; k++) if (in[i][k] != (char)(i + 1)) in_order = 0;
    }
    char label[64];
    snprintf(label, sizeof label, "%s_write_bytes", name); RESULT(label, "%zd", wrote);
    snprintf(label, sizeof label, "%s_read_bytes", name); RESULT(label, "%d", bytes);
    snprintf(label, sizeof label, "%s_reads_in_order", name); RESULT(label, "%d", in_order);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    int p[2];
    if (pipe(p) != 0) DIE("pipe");
    ordered_reads("pipe", p[0], p[1]);

    int s[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) != 0) DIE("socketpair");
    ordered_reads("socket", s[0], s[1]);
    /* And the other direction of the same socket pair. */
    ordered_reads("socket_reverse", s[1], s[0]);

    char fifo[4200];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    unlink(fifo);
    if (mkfifo(fifo, 0600) != 0) DIE("mkfifo");
    /* Two descriptors: one descriptor's requests run in order, so a write queued
     * on the reading descriptor would wait behind the reads it should satisfy. */
    int fr = open(fifo, O_RDONLY | O_NONBLOCK);
    int fw = open(fifo, O_WRONLY);
    if (fr < 0 || fw < 0) DIE("open fifo");
    fcntl(fr, F_SETFL, 0);
    ordered_reads("fifo", fr, fw);
    unlink(fifo);

    /* A read blocked on an empty pipe holds back no other descriptor: a file's
     * read queued after it completes while the pipe read still waits (with one
     * worker, or a file whose number maps to the pipe's worker). */
    {
        int q[2];
        if (pipe(q) != 0) DIE("pipe");
        char path[4200], pbuf[4], fbuf[4];
        snprintf(path, sizeof path, "%s/file", dir);
        int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (f < 0 || write(f, "file", 4) != 4) DIE("file");
        struct aiocb pr = { .aio_fildes = q[0], .aio_buf = pbuf, .aio_nbytes = sizeof pbuf };
        struct aiocb fr = { .aio_fildes = f, .aio_buf = fbuf, .aio_nbytes = sizeof fbuf };
        if (aio_read(&pr) != 0 || aio_read(&fr) != 0) DIE("aio_read pipe/file");
        const struct aiocb *list[1] = { &fr };
        struct timespec ten = { 10, 0 };
        while (aio_error(&fr) == EINPROGRESS)
            if (aio_suspend(list, 1, &ten) != 0 && errno != EINTR) break;  /* EAGAIN: 10 s passed */
        RESULT("file_read_beside_blocked_pipe", "%zd %d", aio_error(&fr) == 0 ? aio_return(&fr) : -1, aio_error(&pr));
        if (write(q[1], "pipe", 4) != 4) DIE("write pipe");
        RESULT("blocked_pipe_read_then", "%zd", aio_finish(&pr));
        if (aio_error(&fr) == EINPROGRESS) aio_finish(&fr);
        close(q[0]); close(q[1]); close(f); unlink(path);
    }

    /* A read on a socket with nothing to read completes once data arrives: end of stream gives 0. */
    char one[8];
    struct aiocb eof = { .aio_fildes = s[0], .aio_buf = one, .aio_nbytes = sizeof one };
    if (aio_read(&eof) != 0) DIE("aio_read eof");
    shutdown(s[1], SHUT_WR);
    RESULT("socket_read_at_eof", "%zd", aio_finish(&eof));

    /* Writing to a pipe whose reader is gone: EPIPE through aio_error (SIGPIPE ignored). */
    signal(SIGPIPE, SIG_IGN);
    close(p[0]);
    struct aiocb broken = { .aio_fildes = p[1], .aio_buf = one, .aio_nbytes = 1 };
    if (aio_write(&broken) != 0) DIE("aio_write broken pipe");
    ssize_t r = aio_finish(&broken);
    RESULT("broken_pipe", "%zd %d", r, aio_error(&broken));
    printf("OK\n");
    return 0;
}
