/* io_file.c — opening the files lunet reads and writes (layout in lunet_io.h).
 *
 * A FIFO would block open() or read() forever, and a folder or a device is never the
 * content of a file format: every reader and writer goes through lunet_open_regular,
 * which opens without blocking (O_NONBLOCK), then asks the descriptor itself what it
 * is (fstat, so that a swap between a check and the open cannot fool it). */
#include "lunet_io.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The names LuaFileSystem gives (lfs.attributes(path, "mode")), which the Lua side uses. */
static const char *kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a named pipe";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m)) return "a char device";
  if (S_ISBLK(m)) return "a block device";
  return "something else";
}

static void not_regular(const char *path, mode_t m, char *err, size_t errlen) {
  snprintf(err, errlen, "'%s' is %s, not a regular file", path, kind(m));
}

int lunet_open_regular(const char *path, int write, char *err, size_t errlen) {
  const char *verb = write ? "write" : "open";
  int flags = (write ? O_WRONLY | O_CREAT : O_RDONLY) | O_NONBLOCK | O_CLOEXEC;
  int fd = open(path, flags, 0666);
  if (fd < 0) {
    int saved = errno;
    struct stat st; /* a FIFO without a reader refuses a non-blocking writer (ENXIO) */
    if (saved == ENXIO && stat(path, &st) == 0 && !S_ISREG(st.st_mode))
      not_regular(path, st.st_mode, err, errlen);
    else
      snprintf(err, errlen, "cannot %s '%s': %s", verb, path, strerror(saved));
    return -1;
  }
  struct stat st = {0}; /* a failed fstat leaves a mode that is not regular */
  int fl = -1;
  if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
    not_regular(path, st.st_mode, err, errlen);
  } else if (!S_ISREG(st.st_mode) || (fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0 ||
             (write && ftruncate(fd, 0) != 0)) { /* emptied only now: O_TRUNC would act before the check */
    snprintf(err, errlen, "cannot %s '%s': %s", verb, path, strerror(errno));
  } else {
    return fd;
  }
  close(fd);
  return -1;
}

int lunet_open_temp(const char *path, char *name, size_t namelen, char *err, size_t errlen) {
  for (int attempt = 0; attempt < 100; attempt++) {
    uint64_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
      r = (uint64_t)getpid() << 32 ^ (uint64_t)clock() ^ (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)attempt;
    int len = snprintf(name, namelen, "%s.%012llx.tmp", path, (unsigned long long)(r & 0xFFFFFFFFFFFFull));
    if (len < 0 || (size_t)len >= namelen) {
      snprintf(err, errlen, "cannot write '%s': path too long", path);
      return -1;
    }
    /* O_EXCL|O_NOFOLLOW: never an existing file, never through a planted link; 0666
     * minus the umask, as for any new file */
    int fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST) {
      snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
      return -1;
    }
  }
  snprintf(err, errlen, "cannot write '%s': no free temporary name beside it", path);
  return -1;
}
