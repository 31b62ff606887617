/*
 * LD_PRELOAD recorder for the power-loss test: every call that changes a file inside $PL_DIR,
 * and every write to stdout (the child's "committed" lines), goes to $PL_TRACE in the one order
 * they returned in, so a replay can rebuild what a disk may hold at any point of the run and
 * which commits had been acknowledged by then.
 *
 * Calls intercepted. `strace -f` of the buffer child (better-sqlite3 12, sync full and normal)
 * shows pwrite64, fsync (never fdatasync), ftruncate, openat, rename, unlink and write (stdout,
 * and node's writeSync of the seq floor); `nm -D` of better_sqlite3.node and node lists the libc
 * symbols behind them: open64, pwrite64, write, writev, pwritev64, fsync, fdatasync,
 * ftruncate64, rename, unlink, close. The plain and *at variants of the same calls are caught
 * too, so another build resolving to them is not silently missed. Not caught, on purpose:
 * mmap (SQLite maps only the -shm, which the test drops; mmap_size is 0 for the database) and
 * sendfile (fs.copyFile, which the buffer does not use).
 *
 * Records (little-endian): a 48-byte header {u64 counter, u32 op, u32 flags, u64 inode,
 * i64 offset, i64 length, u32 path length, u32 second path length}, the path(s), then for
 * writes and stdout the `length` bytes written. `counter` numbers the records from 0, so a
 * reader can tell none is missing. A call is recorded after it returned, under one mutex held
 * across the call itself: the file's order is the order the calls took effect in.
 *
 * File descriptors are mapped to paths at open. libuv closes files with syscall(SYS_close),
 * past this shim, so a mapping may outlive its file: every use checks the fd still refers to
 * the same inode (fstat) before it is recorded. dup() is not followed: neither SQLite nor node
 * duplicates these descriptors.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { OP_OPEN = 1, OP_WRITE, OP_TRUNCATE, OP_SYNC, OP_RENAME, OP_UNLINK, OP_STDOUT };

struct header {
  uint64_t counter;
  uint32_t op;
  uint32_t flags;
  uint64_t inode;
  int64_t offset;
  int64_t length;
  uint32_t path_len;
  uint32_t path2_len;
};

#define MAX_FDS 4096

struct tracked {
  char *path; /* NULL: not a watched file */
  dev_t dev;
  ino_t ino;
};

static struct tracked fds[MAX_FDS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int trace_fd = -1;
static char watched[PATH_MAX];
static size_t watched_len;
static uint64_t counter;

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev64)(int, const struct iovec *, int, off_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);

static void die(const char *what) {
  fprintf(stderr, "power-loss shim: %s\n", what);
  abort();
}

/* Other libraries' constructors may call in before ours has run: resolve on first use. */
static void *next(void **slot, const char *name) {
  if (!*slot) {
    *slot = dlsym(RTLD_NEXT, name);
    if (!*slot) die(name);
  }
  return *slot;
}
#define REAL(name) ((__typeof__(real_##name))next((void **)&real_##name, #name))

__attribute__((constructor)) static void start(void) {
  const char *dir = getenv("PL_DIR");
  const char *trace = getenv("PL_TRACE");
  if (!dir || !trace) return; /* loaded without a job: pass everything through */
  if (strlen(dir) >= sizeof watched) die("PL_DIR too long");
  strcpy(watched, dir);
  watched_len = strlen(watched);
  while (watched_len > 1 && watched[watched_len - 1] == '/') watched[--watched_len] = '\0';
  trace_fd = REAL(open)(trace, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (trace_fd < 0) die("cannot open PL_TRACE");
}

static int active(void) { return trace_fd >= 0; }

static void write_all(const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = REAL(write)(trace_fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("cannot write the trace");
    p += n;
    len -= (size_t)n;
  }
}

/* One record; the data is the first `length` bytes of iov (what the call reported written). */
static void record(uint32_t op, uint32_t flags, uint64_t inode, const char *path, const char *path2, int64_t offset,
                   int64_t length, const struct iovec *iov, int iovcnt) {
  struct header h = {counter++, op, flags, inode, offset, length, path ? (uint32_t)strlen(path) : 0,
                     path2 ? (uint32_t)strlen(path2) : 0};
  write_all(&h, sizeof h);
  if (path) write_all(path, h.path_len);
  if (path2) write_all(path2, h.path2_len);
  if (op != OP_WRITE && op != OP_STDOUT) return;
  size_t left = (size_t)length;
  for (int i = 0; i < iovcnt && left > 0; i++) {
    size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
    write_all(iov[i].iov_base, n);
    left -= n;
  }
}

/* The absolute path `path` names, relative to dirfd; NULL when it cannot be told. */
static char *absolute(int dirfd, const char *path, char *out) {
  if (path[0] == '/') {
    if (strlen(path) >= PATH_MAX) return NULL;
    return strcpy(out, path);
  }
  char base[PATH_MAX];
  if (dirfd == AT_FDCWD) {
    if (!getcwd(base, sizeof base)) return NULL;
  } else if (dirfd >= 0 && dirfd < MAX_FDS && fds[dirfd].path) {
    strcpy(base, fds[dirfd].path);
  } else {
    return NULL;
  }
  if ((size_t)snprintf(out, PATH_MAX, "%s/%s", base, path) >= PATH_MAX) return NULL;
  return out;
}

static int is_watched(const char *abs) {
  return abs && strncmp(abs, watched, watched_len) == 0 && (abs[watched_len] == '\0' || abs[watched_len] == '/');
}

static void forget(int fd) {
  if (fd < 0 || fd >= MAX_FDS || !fds[fd].path) return;
  char *path = fds[fd].path;
  __atomic_store_n(&fds[fd].path, NULL, __ATOMIC_RELEASE);
  free(path);
}

/* Unlocked first look, so calls on other descriptors (and signal handlers) never wait. */
static int maybe_tracked(int fd) {
  return active() && fd >= 0 && fd < MAX_FDS && __atomic_load_n(&fds[fd].path, __ATOMIC_ACQUIRE) != NULL;
}

/* Under the lock: the fd's entry if it still refers to the file opened under that path. */
static struct tracked *tracked(int fd) {
  if (fd < 0 || fd >= MAX_FDS || !fds[fd].path) return NULL;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_dev != fds[fd].dev || st.st_ino != fds[fd].ino) {
    forget(fd);
    return NULL;
  }
  return &fds[fd];
}

static void opened(int fd, int dirfd, const char *path, int flags) {
  char abs[PATH_MAX];
  forget(fd);
  if (!is_watched(absolute(dirfd, path, abs))) return;
  if (fd >= MAX_FDS) die("a watched file got a descriptor beyond the table");
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat of a file just opened failed");
  fds[fd].dev = st.st_dev;
  fds[fd].ino = st.st_ino;
  __atomic_store_n(&fds[fd].path, strdup(abs), __ATOMIC_RELEASE);
  record(OP_OPEN, (uint32_t)flags, st.st_ino, abs, NULL, 0, 0, NULL, 0);
}

/* A call on a watched file, or on stdout: the lock is held from before the call to its record. */
struct call {
  int locked;
  int is_stdout;
  struct tracked *file;
};

static struct call enter(int fd, int with_stdout) {
  struct call c = {0, with_stdout && fd == STDOUT_FILENO && active(), NULL};
  if (!c.is_stdout && !maybe_tracked(fd)) return c;
  pthread_mutex_lock(&lock);
  c.locked = 1;
  if (!c.is_stdout) c.file = tracked(fd);
  return c;
}

static void leave(struct call *c, int saved_errno) {
  if (c->locked) pthread_mutex_unlock(&lock);
  errno = saved_errno;
}

static struct call enter_path(void) {
  struct call c = {active(), 0, NULL};
  if (c.locked) pthread_mutex_lock(&lock);
  return c;
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

static int after_open(struct call *c, int fd, int dirfd, const char *path, int flags) {
  int saved = errno;
  if (c->locked && fd >= 0) opened(fd, dirfd, path, flags);
  leave(c, saved);
  return fd;
}

/* The optional third argument of the open family, read only when the flags say it was passed. */
#define READ_MODE_ARG                \
  va_list ap;                        \
  va_start(ap, flags);               \
  mode_t mode = mode_arg(flags, ap); \
  va_end(ap);

int open(const char *path, int flags, ...) {
  READ_MODE_ARG
  struct call c = enter_path();
  return after_open(&c, REAL(open)(path, flags, mode), AT_FDCWD, path, flags);
}

int open64(const char *path, int flags, ...) {
  READ_MODE_ARG
  struct call c = enter_path();
  return after_open(&c, REAL(open64)(path, flags, mode), AT_FDCWD, path, flags);
}

int openat(int dirfd, const char *path, int flags, ...) {
  READ_MODE_ARG
  struct call c = enter_path();
  return after_open(&c, REAL(openat)(dirfd, path, flags, mode), dirfd, path, flags);
}

int openat64(int dirfd, const char *path, int flags, ...) {
  READ_MODE_ARG
  struct call c = enter_path();
  return after_open(&c, REAL(openat64)(dirfd, path, flags, mode), dirfd, path, flags);
}

int close(int fd) {
  struct call c = enter(fd, 0);
  if (c.locked) forget(fd);
  int r = REAL(close)(fd);
  leave(&c, errno);
  return r;
}

/*
 * After a write of iov at `offset` (-1: at the file position, read back after the call, which
 * also covers O_APPEND). Stdout writes are recorded whole: they carry the acknowledgements.
 */
static ssize_t after_write(struct call *c, int fd, ssize_t n, const struct iovec *iov, int iovcnt, off_t offset) {
  int saved = errno;
  if (n > 0 && c->is_stdout) {
    record(OP_STDOUT, 0, 0, NULL, NULL, 0, n, iov, iovcnt);
  } else if (n > 0 && c->file) {
    off_t at = offset >= 0 ? offset : lseek(fd, 0, SEEK_CUR) - n;
    record(OP_WRITE, 0, c->file->ino, c->file->path, NULL, at, n, iov, iovcnt);
  }
  leave(c, saved);
  return n;
}

ssize_t write(int fd, const void *buf, size_t len) {
  struct iovec one = {(void *)buf, len};
  struct call c = enter(fd, 1);
  return after_write(&c, fd, REAL(write)(fd, buf, len), &one, 1, -1);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off) {
  struct iovec one = {(void *)buf, len};
  struct call c = enter(fd, 1);
  return after_write(&c, fd, REAL(pwrite)(fd, buf, len, off), &one, 1, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off) {
  struct iovec one = {(void *)buf, len};
  struct call c = enter(fd, 1);
  return after_write(&c, fd, REAL(pwrite64)(fd, buf, len, off), &one, 1, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  struct call c = enter(fd, 1);
  return after_write(&c, fd, REAL(writev)(fd, iov, cnt), iov, cnt, -1);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
  struct call c = enter(fd, 1);
  return after_write(&c, fd, REAL(pwritev)(fd, iov, cnt, off), iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off) {
  struct call c = enter(fd, 1);
  return after_write(&c, fd, REAL(pwritev64)(fd, iov, cnt, off), iov, cnt, off);
}

/* ftruncate and the syncs: recorded when they succeeded. */
static int after_fd_call(struct call *c, int r, uint32_t op, uint32_t flags, int64_t length) {
  int saved = errno;
  if (r == 0 && c->file) record(op, flags, c->file->ino, c->file->path, NULL, 0, length, NULL, 0);
  leave(c, saved);
  return r;
}

int ftruncate(int fd, off_t len) {
  struct call c = enter(fd, 0);
  return after_fd_call(&c, REAL(ftruncate)(fd, len), OP_TRUNCATE, 0, len);
}

int ftruncate64(int fd, off_t len) {
  struct call c = enter(fd, 0);
  return after_fd_call(&c, REAL(ftruncate64)(fd, len), OP_TRUNCATE, 0, len);
}

/* flags 0: fsync, 1: fdatasync. Either makes the file's data and size durable. */
int fsync(int fd) {
  struct call c = enter(fd, 0);
  return after_fd_call(&c, REAL(fsync)(fd), OP_SYNC, 0, 0);
}

int fdatasync(int fd) {
  struct call c = enter(fd, 0);
  return after_fd_call(&c, REAL(fdatasync)(fd), OP_SYNC, 1, 0);
}

/* Open descriptors stay on a renamed file: their paths follow it. */
static int after_rename(struct call *c, int r, const char *from, const char *to) {
  int saved = errno;
  if (c->locked && r == 0 && from && to && (is_watched(from) || is_watched(to))) {
    record(OP_RENAME, 0, 0, from, to, 0, 0, NULL, 0);
    for (int fd = 0; fd < MAX_FDS; fd++) {
      if (fds[fd].path && strcmp(fds[fd].path, from) == 0) {
        char *old = fds[fd].path;
        __atomic_store_n(&fds[fd].path, strdup(to), __ATOMIC_RELEASE);
        free(old);
      }
    }
  }
  leave(c, saved);
  return r;
}

int rename(const char *oldpath, const char *newpath) {
  char from[PATH_MAX], to[PATH_MAX];
  struct call c = enter_path();
  int r = REAL(rename)(oldpath, newpath);
  return after_rename(&c, r, absolute(AT_FDCWD, oldpath, from), absolute(AT_FDCWD, newpath, to));
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
  char from[PATH_MAX], to[PATH_MAX];
  struct call c = enter_path();
  int r = REAL(renameat)(olddirfd, oldpath, newdirfd, newpath);
  return after_rename(&c, r, absolute(olddirfd, oldpath, from), absolute(newdirfd, newpath, to));
}

static int after_unlink(struct call *c, int r, const char *abs) {
  int saved = errno;
  if (c->locked && r == 0 && is_watched(abs)) record(OP_UNLINK, 0, 0, abs, NULL, 0, 0, NULL, 0);
  leave(c, saved);
  return r;
}

int unlink(const char *path) {
  char abs[PATH_MAX];
  struct call c = enter_path();
  int r = REAL(unlink)(path);
  return after_unlink(&c, r, absolute(AT_FDCWD, path, abs));
}

int unlinkat(int dirfd, const char *path, int flags) {
  char abs[PATH_MAX];
  struct call c = enter_path();
  int r = REAL(unlinkat)(dirfd, path, flags);
  return after_unlink(&c, r, absolute(dirfd, path, abs));
}
