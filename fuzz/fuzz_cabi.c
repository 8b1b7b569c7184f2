/*
 * fuzz_cabi.c — libFuzzer harness over librealtimeio's C ABI (realtimeio.h)
 *
 * One input = a configuration and a program of C ABI calls:
 *
 *   <JSON configuration bytes> 0x00 <operation bytes>
 *
 * The JSON goes to rtio_engine_create as it is (up to the NUL). When creation
 * succeeds, the operation bytes drive up to MAX_OPS calls (rtio_submit_*, rtio_submit_batch and _h with
 * fuzzed descriptors, offsets, lengths, iovec counts and NULL pointers,
 * rtio_cancel of earlier handles, 0 and random values, rtio_reap with fuzzed
 * limits, rtio_completion_fd, rtio_worker_count/_info,
 * rtio_engine_shutdown with fuzzed modes, calls on a NULL engine); then every
 * accepted request is reaped and the engine destroyed.
 *
 * Safety of the harness itself (it must never be the one that corrupts memory):
 *   - descriptors: a temporary file in /dev/shm, the two ends of a
 *     non-blocking pipe, -1 and a number above RLIMIT_NOFILE; nothing else;
 *   - buffers: NULL, or a pointer into a 2 MiB "sink" mapping followed by a
 *     PROT_NONE guard page; RLIMIT_FSIZE (1 MiB) bounds the file, so a read of
 *     any length cannot write past the sink and a write of any length only
 *     makes the kernel fault on the guard (EFAULT), never our code;
 *   - iovec arrays: taken from a pool, each of IOV_ARRAY entries (more than
 *     RTIO_MAX_IOVECS), never reused until the engine is destroyed;
 *   - privileges: CAP_SYS_NICE, CAP_IPC_LOCK, CAP_SYS_RESOURCE are dropped and
 *     RLIMIT_RTPRIO = 0, RLIMIT_MEMLOCK = 64 KiB at start, so a configuration
 *     asking for SCHED_FIFO or mlockall degrades (bestEffort) or is refused
 *     (required) instead of locking the fuzzer's memory or starving a CPU.
 *
 * Inputs whose configuration could be large are skipped (returns early,
 * nothing created): see config_is_small(). Keeps every run fast.
 *
 * Findings besides crashes (each ends in abort() with a "contract:" line):
 *   - a submit accepted (0) where realtimeio.h promises -EINVAL;
 *   - a return value outside the header's list;
 *   - an accepted request that never completes, or completes twice;
 *   - a completion with a tag never accepted, or a result above its length.
 *
 * RTIO_FUZZ_EXCLUDE_KNOWN=1 in the environment skips the argument shapes of
 * the known, open bugs (fuzz/crashes-known/README.md), so CI can fuzz
 * everything else green until they are fixed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "realtimeio.h"

#define MAX_OPS 48
#define SINK_BYTES (2u << 20)
#define FILE_LIMIT (1u << 20)
#define IOV_ARRAY 1040
#define IOV_ARRAYS 24
#define CONFIG_NUMBER_LIMIT 65536   /* largest number literal in a configuration */
#define CONFIG_THREAD_LIMIT 8       /* sum of "workers" and of "maxThreads" */
#define CONFIG_MIN_IDLE_TIMEOUT 1e-3 /* known bug KB4 below this (exclude mode) */

static int g_file = -1;
static int g_pipe[2] = {-1, -1};
static unsigned char *g_sink;
static struct iovec g_iov[IOV_ARRAYS][IOV_ARRAY];
/* known, open bugs the harness steers around when told to (fuzz/crashes-known/README.md) */
static int g_exclude_kb1; /* NULL iov_base with a non-zero length */
static int g_exclude_kb2; /* iovec lengths past INT64_MAX, or whose sum wraps */
static int g_exclude_kb4; /* tiny idleTimeoutSeconds */

/* tags: one per submit attempt (0..MAX_OPS-1), and BATCH_MAX more per operation for the entries
 * of a batch (MAX_OPS + op * BATCH_MAX + k); index into these */
#define BATCH_MAX 3
#define MAX_TAGS (MAX_OPS * (1 + BATCH_MAX))
static unsigned char g_accepted[MAX_TAGS];
static unsigned char g_completed[MAX_TAGS];
static unsigned char g_cancelled[MAX_TAGS]; /* rtio_cancel said RTIO_CANCELED: must complete -ECANCELED */
static uint64_t g_length[MAX_TAGS]; /* upper bound of a successful result */
static rtio_handle_t g_handle[MAX_OPS]; /* from rtio_submit_read_h; 0 when none */

#define contract(cond, ...)                                                     \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "contract: " __VA_ARGS__);                                \
      fprintf(stderr, "\n");                                                    \
      abort();                                                                  \
    }                                                                           \
  } while (0)

/* ---- set-up ---------------------------------------------------------------- */

static void drop_privileges(void) {
  struct rlimit zero = {0, 0};
  setrlimit(RLIMIT_RTPRIO, &zero);
  struct rlimit memlock = {64 << 10, 64 << 10};
  setrlimit(RLIMIT_MEMLOCK, &memlock);
  struct rlimit fsize = {FILE_LIMIT, FILE_LIMIT};
  setrlimit(RLIMIT_FSIZE, &fsize);
  signal(SIGXFSZ, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  const int drop[] = {CAP_SYS_NICE, CAP_IPC_LOCK, CAP_SYS_RESOURCE};
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &header, data) == 0) {
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) {
      prctl(PR_CAPBSET_DROP, drop[i], 0, 0, 0);
      data[drop[i] / 32].effective &= ~(1u << (drop[i] % 32));
      data[drop[i] / 32].permitted &= ~(1u << (drop[i] % 32));
      data[drop[i] / 32].inheritable &= ~(1u << (drop[i] % 32));
    }
    syscall(SYS_capset, &header, data);
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  /* "1": every known bug; or a list such as "KB1,KB4"; unset, "" or "0": none */
  const char *exclude = getenv("RTIO_FUZZ_EXCLUDE_KNOWN");
  if (exclude && strcmp(exclude, "1") == 0) exclude = "KB1,KB2,KB4";
  g_exclude_kb1 = exclude && strstr(exclude, "KB1") != NULL;
  g_exclude_kb2 = exclude && strstr(exclude, "KB2") != NULL;
  g_exclude_kb4 = exclude && strstr(exclude, "KB4") != NULL;
  drop_privileges();
  char path[] = "/dev/shm/rtio-fuzz-XXXXXX";
  g_file = mkostemp(path, O_CLOEXEC);
  if (g_file < 0) {
    char fallback[] = "/tmp/rtio-fuzz-XXXXXX";
    g_file = mkostemp(fallback, O_CLOEXEC);
    if (g_file < 0) { perror("mkostemp"); exit(2); }
    unlink(fallback);
  } else {
    unlink(path);
  }
  if (pipe2(g_pipe, O_NONBLOCK | O_CLOEXEC) != 0) { perror("pipe2"); exit(2); }
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  g_sink = mmap(NULL, SINK_BYTES + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (g_sink == MAP_FAILED) { perror("mmap"); exit(2); }
  mprotect(g_sink + SINK_BYTES, page, PROT_NONE);
  for (size_t i = 0; i < SINK_BYTES; i++) g_sink[i] = (unsigned char)(i * 131u);
  fprintf(stderr, "fuzz_cabi: file fd %d, pipe %d/%d, known bugs excluded:%s%s%s\n", g_file, g_pipe[0], g_pipe[1],
          g_exclude_kb1 ? " KB1" : "", g_exclude_kb2 ? " KB2" : "", g_exclude_kb4 ? " KB4" : "");
  return 0;
}

/* ---- configuration guard ------------------------------------------------------ */

/* Value of the number right after `"key"` and its colon, or -1. */
static long value_after(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  if (p >= end || *p != ':') return -1;
  p++;
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  if (p < end && *p == '-') return 0;
  long v = 0;
  int digits = 0;
  while (p < end && *p >= '0' && *p <= '9' && digits < 9) { v = v * 10 + (*p - '0'); p++; digits++; }
  return digits ? v : -1;
}

static double double_after(const char *p, const char *end) {
  while (p < end && *p != ':') p++;
  if (p >= end) return -1;
  char tmp[64];
  size_t n = (size_t)(end - p - 1) < sizeof tmp - 1 ? (size_t)(end - p - 1) : sizeof tmp - 1;
  memcpy(tmp, p + 1, n);
  tmp[n] = 0;
  char *stop;
  double d = strtod(tmp, &stop);
  return stop == tmp ? -1 : d;
}

/*
 * True when the configuration cannot ask for much: no number literal above
 * CONFIG_NUMBER_LIMIT (no positive exponents), at most CONFIG_THREAD_LIMIT
 * workers in all and as many on-demand threads. \u escapes are refused, so
 * keys can be matched as plain text (no other escape spells a letter).
 */
static int config_is_small(const char *json, size_t n) {
  const char *end = json + n;
  long workers = 0, threads = 0;
  for (const char *p = json; p < end; p++) {
    if (*p == '\\' && p + 1 < end && p[1] == 'u') return 0;
    if (*p >= '0' && *p <= '9') {
      long v = 0;
      int digits = 0;
      const char *q = p;
      while (q < end && *q == '0') q++;  /* leading zeros (fractions) */
      while (q < end && *q >= '0' && *q <= '9') { if (++digits > 6) return 0; v = v * 10 + (*q - '0'); q++; }
      if (v > CONFIG_NUMBER_LIMIT) return 0;
      if (q < end && (*q == 'e' || *q == 'E') && !(q + 1 < end && q[1] == '-')) return 0;
      p = q - 1;
    } else if ((*p == 'e' || *p == 'E') && p > json && p[-1] == '.' ) {
      if (!(p + 1 < end && p[1] == '-')) return 0;
    }
  }
  static const char *thread_keys[] = {"\"workers\"", "\"maxThreads\""};
  for (int k = 0; k < 2; k++) {
    size_t klen = strlen(thread_keys[k]);
    for (const char *p = json; p + klen <= end; p++) {
      if (memcmp(p, thread_keys[k], klen) != 0) continue;
      long v = value_after(p + klen, end);
      if (v > 0) { if (k == 0) workers += v; else threads += v; }
    }
  }
  if (workers > CONFIG_THREAD_LIMIT || threads > CONFIG_THREAD_LIMIT) return 0;
  if (g_exclude_kb4) {
    /* KB4: a tiny idleTimeoutSeconds fails creation with a misleading error (or worse) */
    const char *key = "\"idleTimeoutSeconds\"";
    size_t klen = strlen(key);
    for (const char *p = json; p + klen <= end; p++) {
      if (memcmp(p, key, klen) != 0) continue;
      double d = double_after(p + klen, end);
      if (d >= 0 && d < CONFIG_MIN_IDLE_TIMEOUT) return 0;
    }
  }
  return 1;
}

/* ---- operation bytes ---------------------------------------------------------- */

typedef struct { const uint8_t *p; size_t n; } cursor;

static uint64_t take(cursor *c, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) {
    v <<= 8;
    if (c->n) { v |= *c->p++; c->n--; }
  }
  return v;
}

static int pick_fd(cursor *c) {
  switch (take(c, 1) % 6) {
  case 0: case 5: return g_file;
  case 1: return g_pipe[0];
  case 2: return g_pipe[1];
  case 3: return -1;
  default: return 1 << 24; /* above any RLIMIT_NOFILE: EBADF */
  }
}

static int64_t pick_offset(cursor *c) {
  switch (take(c, 1) % 9) {
  case 0: return 0;
  case 1: case 2: return (int64_t)(take(c, 2) % 8192);
  case 3: return -1;
  case 4: return -(int64_t)take(c, 4) - 1;
  case 5: return INT64_MAX;
  case 6: return INT64_MAX - (int64_t)take(c, 2);
  case 7: return (int64_t)take(c, 8);
  default: return (int64_t)1 << 40;
  }
}

static uint64_t pick_length(cursor *c) {
  switch (take(c, 1) % 9) {
  case 0: return 0;
  case 1: case 2: return take(c, 2) % 8192;
  case 3: return SINK_BYTES;
  case 4: return SIZE_MAX;
  case 5: return (uint64_t)INT64_MAX + 1 + take(c, 2);
  case 6: return (uint64_t)INT64_MAX - take(c, 2);
  case 7: return take(c, 8);
  default: return (uint64_t)1 << 32;
  }
}

/* NULL, or a pointer into the sink (any length is safe there, see the header comment). */
static unsigned char *pick_buffer(cursor *c) {
  uint8_t k = (uint8_t)take(c, 1);
  if (k % 8 == 0) return NULL;
  return g_sink + (take(c, 3) % SINK_BYTES);
}

static int add_overflows(uint64_t a, uint64_t b, uint64_t limit) { return a > limit || b > limit - a; }

/* What the header promises for a range: -EINVAL for a negative offset or length or an end past INT64_MAX. */
static int range_invalid(int64_t offset, uint64_t length) {
  return offset < 0 || length > (uint64_t)INT64_MAX || add_overflows((uint64_t)offset, length, (uint64_t)INT64_MAX);
}

/* must_be_einval: the header refuses the arguments with -EINVAL; bad_address: an iovec has a NULL
 * base and a length, which the header refuses with -EFAULT (either may come first when both hold). */
static void check_submit_result(int rc, int must_be_einval, int bad_address, int shut_down, const char *what,
                                const char *args) {
  contract(rc == 0 || rc == -EINVAL || rc == -EAGAIN || rc == -ESHUTDOWN || (bad_address && rc == -EFAULT),
           "%s(%s) returned %d, not in the header's list", what, args, rc);
  if (must_be_einval && bad_address)
    contract(rc == -EINVAL || rc == -EFAULT, "%s(%s) returned %d for arguments the header refuses", what, args, rc);
  else if (must_be_einval)
    contract(rc == -EINVAL, "%s(%s) returned %d for arguments the header refuses with -EINVAL", what, args, rc);
  else if (bad_address)
    contract(rc == -EFAULT, "%s(%s) returned %d for a NULL iov_base with a length (header: -EFAULT)", what, args, rc);
  if (shut_down && rc == 0) contract(0, "%s(%s) accepted after rtio_engine_shutdown", what, args);
}

/* ---- completions -------------------------------------------------------------- */

static int reap_some(rtio_engine *e, unsigned max) {
  struct rtio_completion out[64];
  if (max > 64) max = 64;
  int n = rtio_reap(e, max ? out : NULL, max);
  contract(n >= 0 && (unsigned)n <= max, "rtio_reap returned %d for max %u", n, max);
  for (int i = 0; i < n; i++) {
    uint64_t tag = out[i].tag;
    contract(tag < MAX_TAGS && g_accepted[tag], "completion with tag %llu never accepted", (unsigned long long)tag);
    contract(!g_completed[tag], "request %llu completed twice", (unsigned long long)tag);
    g_completed[tag] = 1;
    contract(!g_cancelled[tag] || out[i].result == -ECANCELED, "request %llu: cancelled, but completed with %lld",
             (unsigned long long)tag, (long long)out[i].result);
    contract(out[i].result >= -4095, "request %llu: result %lld is no -errno", (unsigned long long)tag, (long long)out[i].result);
    contract(out[i].result < 0 || (uint64_t)out[i].result <= g_length[tag],
             "request %llu: result %lld above its length %llu", (unsigned long long)tag, (long long)out[i].result,
             (unsigned long long)g_length[tag]);
    contract(out[i].reserved == 0, "completion reserved field %u", out[i].reserved);
  }
  return n;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void reap_all(rtio_engine *e, int fd, int pending) {
  uint64_t deadline = now_ms() + 20000;
  while (pending > 0) {
    int n = reap_some(e, 64);
    pending -= n;
    if (n > 0) continue;
    contract(now_ms() < deadline, "%d accepted request(s) never completed", pending);
    if (fd >= 0) {
      struct pollfd p = {fd, POLLIN, 0};
      poll(&p, 1, 100);
    } else {
      usleep(1000);
    }
  }
}

/* ---- one input ------------------------------------------------------------------ */

/* Every input starts from the same file and pipe, so a crash input replays alone. */
static void reset_descriptors(void) {
  static unsigned char pattern[4096];
  for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (unsigned char)(i * 7u + 1);
  if (ftruncate(g_file, 0) != 0 || pwrite(g_file, pattern, sizeof pattern, 0) != (ssize_t)sizeof pattern) {
    perror("reset temp file");
    abort();
  }
  while (read(g_pipe[0], pattern, sizeof pattern) > 0) {}
  for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (unsigned char)(i * 7u + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  size_t json_len = nul ? (size_t)(nul - data) : size;
  if (!config_is_small((const char *)data, json_len)) return -1; /* not added to the corpus */
  char *json = malloc(json_len + 1);
  memcpy(json, data, json_len);
  json[json_len] = 0;
  cursor c = {nul ? nul + 1 : data + size, nul ? size - json_len - 1 : 0};
  reset_descriptors();

  rtio_engine *e = (rtio_engine *)0x1;
  char err[256];
  size_t errlen = c.n ? take(&c, 1) % (sizeof err + 1) : sizeof err;
  int rc = rtio_engine_create(json, &e, errlen ? err : NULL, errlen);
  free(json);
  contract(rc <= 0, "rtio_engine_create returned %d", rc);
  if (rc != 0) {
    contract(e == NULL, "rtio_engine_create failed (%d) but *out is not NULL", rc);
    if (errlen) contract(memchr(err, 0, errlen) != NULL, "error message not NUL-terminated");
    return 0;
  }
  contract(e != NULL, "rtio_engine_create succeeded with *out NULL");
  if (errlen) contract(memchr(err, 0, errlen) != NULL, "degradation message not NUL-terminated");

  memset(g_accepted, 0, sizeof g_accepted);
  memset(g_completed, 0, sizeof g_completed);
  memset(g_cancelled, 0, sizeof g_cancelled);
  memset(g_handle, 0, sizeof g_handle);
  int fd = rtio_completion_fd(e);
  contract(fd >= 0, "rtio_completion_fd returned %d on a running engine", fd);
  int workers = rtio_worker_count(e);
  contract(workers >= 0, "rtio_worker_count returned %d", workers);
  int pending = 0, shut_down = 0, arrays = 0;

  for (uint64_t tag = 0; tag < MAX_OPS && c.n > 0; tag++) {
    uint8_t op = (uint8_t)take(&c, 1);
    int f = -1, result = 0, invalid = 0, bad_address = 0;
    int64_t offset = 0;
    uint64_t length = 0;
    unsigned char *buf = NULL;
    const char *what = "";
    int iovcnt = 0;
    switch (op % 13) {
    case 0: case 1: { /* read / write */
      f = pick_fd(&c);
      buf = pick_buffer(&c);
      length = pick_length(&c);
      offset = pick_offset(&c);
      invalid = (buf == NULL && length > 0) || range_invalid(offset, length);
      what = op % 13 == 0 ? "rtio_submit_read_h" : "rtio_submit_write";
      /* reads return a handle, for the cancellations below */
      result = op % 13 == 0 ? rtio_submit_read_h(e, f, buf, (size_t)length, offset, tag, &g_handle[tag])
                            : rtio_submit_write(e, f, buf, (size_t)length, offset, tag);
      if (op % 13 == 0) contract(result == 0 ? g_handle[tag] != 0 : g_handle[tag] == 0,
                                 "rtio_submit_read_h returned %d with handle %llu", result, (unsigned long long)g_handle[tag]);
      break;
    }
    case 2: case 3: { /* readv / writev */
      f = pick_fd(&c);
      uint8_t k = (uint8_t)take(&c, 1);
      int count;
      switch (k % 8) {
      case 0: count = 0; break;
      case 1: case 2: count = 1 + (int)(take(&c, 1) % 4); break;          /* copied inline */
      case 3: case 4: count = 5 + (int)(take(&c, 1) % 12); break;         /* referenced */
      case 5: count = RTIO_MAX_IOVECS - 1 + (int)(take(&c, 1) % 3); break; /* 1023..1025 */
      case 6: count = -1 - (int)(take(&c, 1) % 2); break;
      default: count = (take(&c, 1) & 1) ? INT_MAX : INT_MIN; break;
      }
      struct iovec *iov = NULL;
      int null_iov = take(&c, 1) % 16 == 0;
      uint64_t total = 0;
      int wraps = 0, null_base = 0;
      if (!null_iov && arrays < IOV_ARRAYS) {
        iov = g_iov[arrays++];
        int fill = count < 0 ? 0 : (count > IOV_ARRAY ? IOV_ARRAY : count);
        for (int i = 0; i < fill; i++) {
          uint8_t kind = (uint8_t)take(&c, 1);
          iov[i].iov_base = kind % 8 == 0 ? NULL : g_sink + (take(&c, 2) * 31u % SINK_BYTES);
          iov[i].iov_len = kind % 5 == 0 ? (size_t)pick_length(&c) : (size_t)(take(&c, 1) * 16u);
          if (iov[i].iov_base == NULL && iov[i].iov_len > 0) null_base = 1;
          if (add_overflows(total, iov[i].iov_len, UINT64_MAX)) wraps = 1;
          total += iov[i].iov_len;
        }
      }
      offset = pick_offset(&c);
      int bad_count = count < 0 || count > RTIO_MAX_IOVECS || (iov == NULL && count > 0);
      int past_max = 0;
      for (int i = 0; iov && !bad_count && i < count; i++) past_max |= iov[i].iov_len > (size_t)INT64_MAX;
      if (!bad_count && ((g_exclude_kb1 && null_base) || (g_exclude_kb2 && (wraps || past_max)))) continue;
      invalid = bad_count || (!bad_count && (wraps || past_max || range_invalid(offset, total)));
      bad_address = !bad_count && null_base;
      length = total;
      iovcnt = count;
      buf = (unsigned char *)iov;
      what = op % 13 == 2 ? "rtio_submit_readv" : "rtio_submit_writev";
      result = op % 13 == 2 ? rtio_submit_readv(e, f, iov, count, offset, tag)
                            : rtio_submit_writev(e, f, iov, count, offset, tag);
      break;
    }
    case 4: f = pick_fd(&c); what = "rtio_submit_fsync"; result = rtio_submit_fsync(e, f, tag); break;
    case 5: f = pick_fd(&c); what = "rtio_submit_fdatasync"; result = rtio_submit_fdatasync(e, f, tag); break;
    case 6: { /* fallocate */
      f = pick_fd(&c);
      static const int modes[] = {0, 1, 3, 0x10, 2, 0x20, -1, 0x11};
      int mode = modes[take(&c, 1) % 8];
      offset = pick_offset(&c);
      int64_t len = (int64_t)pick_length(&c);
      if (take(&c, 1) % 4 == 0) len = (int64_t)(take(&c, 2) % 8192);
      invalid = !(mode == 0 || mode == 1 || mode == 3 || mode == 0x10) || len < 0 ||
                range_invalid(offset, (uint64_t)len);
      what = "rtio_submit_fallocate";
      result = rtio_submit_fallocate(e, f, mode, offset, len, tag);
      break;
    }
    case 7: case 8: /* reap some */
      pending -= reap_some(e, (unsigned)(take(&c, 1) % 8));
      continue;
    case 9: { /* reap with NULL out, cancel, or a batch */
      uint8_t k = (uint8_t)take(&c, 1);
      if (k % 3 == 0) {
        unsigned max = (unsigned)(take(&c, 1) % 3);
        int r = rtio_reap(e, NULL, max);
        contract(max == 0 ? r == 0 : r == -EINVAL, "rtio_reap(out NULL, max %u) returned %d", max, r);
      } else if (k % 3 == 1) {
        /* a handle of an earlier read, 0, or any value: never a crash; RTIO_CANCELED means that
         * read completes exactly once with -ECANCELED */
        uint64_t earlier = tag ? take(&c, 1) % tag : 0;
        uint8_t which = (uint8_t)take(&c, 1) % 4;
        rtio_handle_t h = which == 0 ? 0 : which == 3 ? (rtio_handle_t)take(&c, 8) : g_handle[earlier];
        int r = rtio_cancel(e, h);
        contract(r == RTIO_CANCELED || r == RTIO_NOTCANCELED || r == RTIO_ALLDONE || r == -EINVAL,
                 "rtio_cancel(%llu) returned %d", (unsigned long long)h, r);
        if (h == 0) contract(r == -EINVAL, "rtio_cancel(0) returned %d", r);
        if (r == RTIO_CANCELED && which != 3) {
          contract(g_accepted[earlier] && !g_completed[earlier], "rtio_cancel cancelled request %llu, which is done",
                   (unsigned long long)earlier);
          g_cancelled[earlier] = 1;
        }
        if (which != 3 && g_handle[earlier] != 0 && h == g_handle[earlier] && g_completed[earlier])
          contract(r == RTIO_ALLDONE, "rtio_cancel of reaped request %llu returned %d", (unsigned long long)earlier, r);
      } else {
        /* a batch of 0..BATCH_MAX reads, writes and fsyncs, sometimes with a bad entry */
        struct rtio_request reqs[BATCH_MAX];
        unsigned n = (unsigned)(take(&c, 1) % (BATCH_MAX + 1));
        int any_invalid = 0;
        memset(reqs, 0, sizeof reqs);
        for (unsigned i = 0; i < n; i++) {
          uint8_t kind = (uint8_t)take(&c, 1);
          reqs[i].opcode = kind % 8 == 7 ? 9 + (kind >> 3) % 4 /* no such opcode */ : (kind % 3 == 2 ? RTIO_OP_FSYNC : kind % 2);
          reqs[i].fd = pick_fd(&c);
          reqs[i].buf = g_sink + (take(&c, 2) * 31u % (SINK_BYTES - 8192));
          reqs[i].len = take(&c, 1) % 4 == 0 ? pick_length(&c) : take(&c, 2) % 8192;
          reqs[i].offset = pick_offset(&c);
          reqs[i].tag = MAX_OPS + tag * BATCH_MAX + i;
          if (reqs[i].opcode > RTIO_OP_FALLOCATE ||
              (reqs[i].opcode != RTIO_OP_FSYNC && range_invalid(reqs[i].offset, reqs[i].len)))
            any_invalid = 1;
        }
        unsigned failed = 12345;
        /* half the batches through rtio_submit_batch_h: handles on success, zeros on refusal */
        int with_handles = take(&c, 1) % 2;
        rtio_handle_t handles[BATCH_MAX];
        for (unsigned i = 0; i < BATCH_MAX; i++) handles[i] = 1;
        int r = with_handles ? rtio_submit_batch_h(e, n ? reqs : NULL, n, handles, &failed)
                             : rtio_submit_batch(e, n ? reqs : NULL, n, &failed);
        if (with_handles) {
          for (unsigned i = 0; i < n; i++) {
            contract(r == 0 ? handles[i] != 0 : handles[i] == 0, "rtio_submit_batch_h returned %d, handle %u is %llu",
                     r, i, (unsigned long long)handles[i]);
            for (unsigned j = 0; r == 0 && j < i; j++)
              contract(handles[i] != handles[j], "rtio_submit_batch_h: handles %u and %u are equal", i, j);
          }
        }
        contract(r == 0 || r == -EINVAL || r == -EAGAIN || r == -ESHUTDOWN, "rtio_submit_batch(%u) returned %d", n, r);
        /* an invalid entry is named; -EINVAL naming none (n) is a batch larger than the ring or the slab */
        if (any_invalid) contract(r == -EINVAL && failed < n, "rtio_submit_batch: an invalid entry gave %d, index %u of %u", r, failed, n);
        else if (r == -EINVAL) contract(failed == n, "rtio_submit_batch: -EINVAL names entry %u of %u, which is valid", failed, n);
        else contract(failed == n, "rtio_submit_batch returned %d with failed index %u of %u", r, failed, n);
        if (shut_down && n > 0) contract(r != 0, "rtio_submit_batch accepted after rtio_engine_shutdown");
        if (r == 0) {
          for (unsigned i = 0; i < n; i++) {
            g_accepted[reqs[i].tag] = 1;
            g_length[reqs[i].tag] = reqs[i].opcode == RTIO_OP_FSYNC ? 0 : reqs[i].len;
          }
          pending += (int)n;
        }
      }
      continue;
    }
    case 10: { /* shutdown, fuzzed mode */
      static const int modes[] = {RTIO_SHUTDOWN_DRAIN, RTIO_SHUTDOWN_CANCEL, 2, -1};
      int mode = modes[take(&c, 1) % 4];
      int r = rtio_engine_shutdown(e, mode);
      if (mode == 0 || mode == 1) {
        contract(r == 0, "rtio_engine_shutdown(%d) returned %d", mode, r);
        shut_down = 1;
        contract(rtio_completion_fd(e) == -ESHUTDOWN, "rtio_completion_fd after shutdown is not -ESHUTDOWN");
        fd = -1;
      } else {
        contract(r == -EINVAL, "rtio_engine_shutdown(%d) returned %d", mode, r);
      }
      continue;
    }
    case 11: { /* the NULL engine */
      char b[8];
      struct iovec v = {b, sizeof b};
      contract(rtio_submit_read(NULL, g_file, b, sizeof b, 0, tag) == -EINVAL, "submit on NULL engine");
      contract(rtio_submit_writev(NULL, g_file, &v, 1, 0, tag) == -EINVAL, "submit on NULL engine");
      contract(rtio_submit_fsync(NULL, g_file, tag) == -EINVAL, "submit on NULL engine");
      contract(rtio_reap(NULL, NULL, 0) == -EINVAL, "reap on NULL engine");
      contract(rtio_completion_fd(NULL) == -EINVAL, "completion_fd on NULL engine");
      contract(rtio_worker_count(NULL) == -EINVAL, "worker_count on NULL engine");
      contract(rtio_engine_shutdown(NULL, 0) == -EINVAL, "shutdown on NULL engine");
      contract(rtio_cancel(NULL, 1) == -EINVAL, "cancel on NULL engine");
      contract(rtio_submit_batch(NULL, NULL, 0, NULL) == -EINVAL, "batch on NULL engine");
      continue;
    }
    default: { /* worker info, fuzzed index */
      struct rtio_worker_info info;
      unsigned index = (unsigned)(take(&c, 1) % (unsigned)(workers + 2));
      int null_out = take(&c, 1) % 8 == 0;
      int r = rtio_worker_info(e, index, null_out ? NULL : &info);
      if (null_out || index >= (unsigned)workers) contract(r == -EINVAL, "rtio_worker_info(%u, %s) returned %d", index, null_out ? "NULL" : "out", r);
      continue;
    }
    }
    char args[160];
    snprintf(args, sizeof args, "fd %d, buf %s, length %llu, offset %lld, iovcnt %d", f, buf ? "sink" : "NULL",
             (unsigned long long)length, (long long)offset, iovcnt);
    check_submit_result(result, invalid, bad_address, shut_down, what, args);
    if (result == 0) {
      g_accepted[tag] = 1;
      g_length[tag] = length;
      pending++;
    }
  }
  reap_all(e, fd, pending);
  if (take(&c, 1) & 1) rtio_engine_shutdown(e, RTIO_SHUTDOWN_CANCEL);
  rtio_engine_destroy(e);
  return 0;
}
