/*
 * aio_status.c — the drop-in leaves no status file behind.
 *   ./aio_status DIR            uses AIO, forks a child that uses AIO and exits,
 *                               then execs itself ("exec" stage), which uses AIO
 *                               and exits: lists what is left in $XDG_RUNTIME_DIR/rtio
 *   ./aio_status DIR exec       (the exec'd image)
 * Run with XDG_RUNTIME_DIR pointing to an empty scratch directory.
 */
#include "aio_common.h"
#include <dirent.h>
#include <sys/wait.h>

static void one_read(const char *dir) {
    char path[4200], buf[16];
    snprintf(path, sizeof path, "%s/status-data", dir);
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    if (fd < 0) DIE("open");
    struct aiocb cb = { .aio_fildes = fd, .aio_buf = buf, .aio_nbytes = sizeof buf };
    if (aio_read(&cb) != 0) DIE("aio_read");
    aio_finish(&cb);
    close(fd);
}

static int status_files(const char *label) {
    char rtio[4200];
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    snprintf(rtio, sizeof rtio, "%s/rtio", xdg ? xdg : "/dev/shm");
    DIR *d = opendir(rtio);
    int n = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strstr(e->d_name, ".status")) { n++; fprintf(stderr, "%s: %s\n", label, e->d_name); }
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    if (argc > 2 && strcmp(argv[2], "exec") == 0) {
        /* The new image: its own engine (the old image's file is a leftover it removes). */
        one_read(dir);
        RESULT("files_in_exec_image", "%d", status_files("exec image") <= 1);
        printf("OK\n");
        return 0;  /* exit(): the atexit handler removes this image's file */
    }
    one_read(dir);
    pid_t child = fork();
    if (child == 0) {
        one_read(dir);
        exit(0);
    }
    int st;
    waitpid(child, &st, 0);
    RESULT("child_exit", "%d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    /* Only this process's own file may remain while it runs. */
    RESULT("files_after_child", "%d", status_files("after child") <= 1);
    execl("/proc/self/exe", argv[0], dir, "exec", (char *)NULL);
    DIE("execl");
}
